"""Traffic logging off the request path.

A request only appends one record (its ids, features, labels…) to a bounded in-memory deque:
no encoding, no I/O, O(1). A background task flushes the buffer every ``flush_interval_s``; each
batch goes out as one non-transactional pipeline of the gateway's asyncio Redis client: per
served model in the batch, :data:`~mlops_gateway.traffic_scripts.APPEND_COLUMNS`, a redis-py
``Script`` that gets the batch's values one string per field
(:func:`~mlops_gateway.traffic_records.encode_columns`) and runs an ``XADD traffic:<model>`` per
instance with the fields
:meth:`TrafficEntry.encode <mlops_common.redis_keys.TrafficEntry.encode>` gives and one
``XTRIM traffic:<model> MAXLEN ~ n``; then the prediction-id index that lets feedback check an id
and find the model that answered (:mod:`mlops_common.prediction_index`).
Why this shape (docs/services/gateway.md): an ``XADD`` command per entry cost ~75 µs of gateway
CPU, one script call per batch far less. Sending the batch from a worker thread with the blocking
client (hiredis packs in C) looked cheaper in isolation, but in the serving gateway the thread
fought the event loop for the GIL: +18-29 % CPU per request with logging on at c=32, against
+2-13 % for the same pipeline on the event loop's own client.
When the buffer is full, or Redis is down, entries are dropped and counted; the first failure is
logged once, and so is the recovery. Memory stays bounded (``capacity`` instances).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from mlops_common.prediction_index import bucket_of, expires_at, index_key
from mlops_common.redis_keys import traffic_stream
from mlops_gateway.traffic_records import TrafficRecord, encode_columns, layout
from mlops_gateway.traffic_scripts import APPEND_COLUMNS, INDEX_ENTRIES, index_args

__all__ = ["TrafficLogger", "TrafficRecord"]

log = logging.getLogger(__name__)


class TrafficLogger:
    """Buffer of traffic records and the task that writes them to Redis (an asyncio client)."""

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
        self._append = redis.register_script(APPEND_COLUMNS)
        self._index = redis.register_script(INDEX_ENTRIES)
        self._stream_maxlen = stream_maxlen
        self._prediction_ttl_s = prediction_ttl_s
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
        count = sum(len(record.ids) for record in records)
        if not count:
            return True
        groups: dict[tuple[str, bool, int], list[TrafficRecord]] = {}
        for record in records:
            groups.setdefault(layout(record), []).append(record)
        replies = await self._send(groups)
        # [one script per group (a model's records of one layout), the index script]; an error
        # reply comes back as its ResponseError. A script refused at its first XADD (OOM,
        # READONLY, WRONGTYPE…) wrote none of its group's entries.
        errors = [r for r in replies if isinstance(r, ResponseError)]
        refused = sum(
            sum(len(record.ids) for record in group)
            for group, reply in zip(groups.values(), replies, strict=False)
            if isinstance(reply, ResponseError)
        )
        self.logged += count - refused
        self._on_logged(count - refused)
        if errors:  # entries refused, or ids left out of the index
            self._drop(refused, f"Redis refused them: {errors[0]}")
        return not errors

    async def _send(self, groups: dict[tuple[str, bool, int], list[TrafficRecord]]) -> list[object]:
        """Write one batch as one pipeline; its replies (errors as ``ResponseError`` values)."""
        index: dict[str, str] = {}
        bucket = bucket_of(time.time())
        key = index_key(bucket)
        async with self._redis.pipeline(transaction=False) as pipe:
            for (model, _, _), records in groups.items():
                n, columns = encode_columns(records)
                args: list[bytes | str | int] = [self._stream_maxlen, n, len(columns) // 3]
                args += columns
                for record in records:
                    index.update(record.index_fields())
                await self._append(keys=[traffic_stream(model)], args=args, client=pipe)
            expiry = expires_at(bucket, self._prediction_ttl_s)
            await self._index(keys=[key], args=[expiry, *index_args(index)], client=pipe)
            replies: list[object] = await pipe.execute(raise_on_error=False)
        return replies

    def _drop(self, count: int, reason: str) -> None:
        if count > 0:
            self.dropped += count
            self._on_dropped(count)
        if not self._failing:
            log.warning("dropping traffic entries: %s", reason, extra={"dropped": count})
            self._failing = True
