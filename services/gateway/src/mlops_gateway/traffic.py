"""Traffic logging off the request path.

A request only appends one record (its ids, features, labels…) to a bounded in-memory deque:
no encoding, no I/O, O(1). A background task flushes the buffer every ``flush_interval_s``: it
encodes the batch as ready-made Redis commands (:class:`~.traffic_commands.FlushCommands`: an
``XADD traffic MAXLEN ~ n`` per instance, then the prediction-id index that lets feedback check
an id) and sends them in one write on one pooled connection, then reads the replies.
When the buffer is full, or Redis is down, entries are dropped and counted; the first failure is
logged once, and so is the recovery. Memory stays bounded (``capacity`` instances).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import RedisError, ResponseError

from mlops_common.redis_keys import TRAFFIC_STREAM
from mlops_gateway.traffic_commands import FlushCommands, TrafficRecord

log = logging.getLogger(__name__)

_READ_TIMEOUT_S = 5.0  # for the replies of a flush when the client sets no socket timeout


class TrafficLogger:
    """Buffer of traffic records and the task that writes them to Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        capacity: int = 10_000,
        flush_interval_s: float = 0.05,
        batch_size: int = 500,
        stream_maxlen: int = 100_000,
        prediction_ttl_s: int = 7 * 24 * 3600,
        on_logged: Callable[[int], None] = lambda n: None,
        on_dropped: Callable[[int], None] = lambda n: None,
    ) -> None:
        self._redis = redis
        self._commands = FlushCommands(TRAFFIC_STREAM, stream_maxlen, prediction_ttl_s)
        self._quiet = True  # CLIENT REPLY OFF around the XADD, until Redis refuses it
        self.capacity = capacity
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self._on_logged = on_logged
        self._on_dropped = on_dropped
        self._buffer: deque[TrafficRecord] = deque()
        self._buffered = 0  # instances in ``_buffer``
        self._in_flight: list[TrafficRecord] = []
        self._in_flight_count = 0
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.logged = 0
        self.dropped = 0

    @property
    def depth(self) -> int:
        """Instances waiting in memory (buffered or being written)."""
        return self._buffered + self._in_flight_count

    def offer(self, record: TrafficRecord) -> None:
        """Queue one request's instances; beyond ``capacity`` the record is dropped and counted."""
        n = len(record.ids)
        room = self.capacity - self._buffered - self._in_flight_count
        if room < n:
            self._drop(n - max(room, 0), "traffic buffer full")
            if room <= 0:
                return
            record, n = record.head(room), room
        self._buffer.append(record)
        self._buffered += n
        if self._buffered >= self.batch_size:
            self._wake.set()

    def pending(self, identifier: str) -> bool:
        """True while ``identifier`` (a prediction id or a one-instance request id) is in memory."""
        return any(r.names(identifier) for r in (*self._buffer, *self._in_flight))

    async def wait_written(self, identifier: str, timeout_s: float = 2.0) -> None:
        """Flush now and wait until ``identifier`` has left memory (written or dropped)."""
        async with asyncio.timeout(timeout_s):
            while self.pending(identifier):
                self._flushed.clear()
                self._wake.set()
                await self._flushed.wait()

    def start(self) -> None:
        """Start the background flush task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="traffic-flush")

    async def stop(self) -> None:
        """Flush what is left (best effort) and stop the task."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(2.0):
                await self.flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except (RedisError, OSError, TimeoutError) as exc:
                if not self._failing:
                    log.warning("traffic logging to Redis failed; dropping entries: %s", exc)
                    self._failing = True
            finally:
                self._flushed.set()

    def _take(self) -> None:
        """Move up to ``batch_size`` instances (whole records) from the buffer to in flight."""
        while self._buffer and (not self._in_flight or self._in_flight_count < self.batch_size):
            record = self._buffer.popleft()
            n = len(record.ids)
            self._buffered -= n
            self._in_flight.append(record)
            self._in_flight_count += n

    async def flush(self) -> None:
        """Write everything buffered now; on a Redis error the batch is dropped, then re-raised."""
        while self._buffer:
            self._take()
            try:
                written = await self._write(self._in_flight)
            except BaseException:
                # Redis is away: drop this batch and what waits behind it (each retry would
                # cost a timeout); later requests try again.
                self._drop(self._in_flight_count + self._buffered, "Redis unavailable")
                self._buffer.clear()
                self._buffered = 0
                raise
            finally:
                self._in_flight, self._in_flight_count = [], 0
            if written and self._failing:
                log.info("traffic logging recovered")
                self._failing = False

    async def _write(self, records: list[TrafficRecord]) -> bool:
        """Send one batch; False when Redis refused some of it (counted as dropped)."""
        quiet = self._quiet
        payload, count = self._commands.encode(records, time.time(), quiet=quiet)
        if not count:
            return True
        pool = self._redis.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await connection.send_packed_command(payload)
            # One deadline for all replies, not one timer per reply (the client's default).
            async with asyncio.timeout(connection.socket_timeout or _READ_TIMEOUT_S):
                replies = await _read(connection, 4 if quiet else count + 3)
                if quiet and isinstance(replies[0], ResponseError):
                    # CLIENT REPLY refused (a proxy, an ACL): every XADD answered after all.
                    log.warning(
                        "Redis refused CLIENT REPLY OFF (%s); reading every reply", replies[0]
                    )
                    self._quiet = False
                    replies = replies[1:] + await _read(connection, count + 1)
                    del replies[count]  # CLIENT REPLY ON's own reply
                    quiet = False
        except BaseException:
            await connection.disconnect()  # replies may be left unread: never reuse it
            raise
        finally:
            await pool.release(connection)
        # quiet: [ON, HSET, EXPIREAT, XLEN]; else: [XADD × count, HSET, EXPIREAT, XLEN]
        errors = [r for r in replies if isinstance(r, ResponseError)]
        if quiet:
            refused = count if errors else 0  # which XADD failed is not known: count them all
        else:
            refused = sum(isinstance(r, ResponseError) for r in replies[:count])
        self.logged += count - refused
        self._on_logged(count - refused)
        if errors:  # OOM, READONLY, WRONGTYPE…: entries refused, or ids left out of the index
            self._drop(refused, f"Redis refused them: {errors[0]}")
        return not errors

    def _drop(self, count: int, reason: str) -> None:
        if count > 0:
            self.dropped += count
            self._on_dropped(count)
        if not self._failing:
            log.warning("dropping traffic entries: %s", reason, extra={"dropped": count})
            self._failing = True


async def _read(connection: Connection, n: int) -> list[Any]:
    """The next ``n`` replies; an error reply is returned as its ``ResponseError``."""
    replies: list[Any] = []
    for _ in range(n):
        try:
            replies.append(await connection.read_response(disable_decoding=True, timeout=math.inf))
        except ResponseError as exc:  # an error reply: the ones after it still come
            replies.append(exc)
    return replies
