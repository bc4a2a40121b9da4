"""Traffic logging off the request path.

A request only appends its entries to a bounded in-memory buffer (O(1), no I/O). A background
task flushes the buffer every ``flush_interval_s`` to Redis in pipelines: ``XADD traffic MAXLEN ~``
per entry plus the ``prediction:<id>`` hash (with a TTL) that lets feedback check the id and gives
the features back for retraining. When the buffer is full, or Redis is down, entries are dropped
and counted; the first failure is logged once, and so is the recovery. Memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mlops_common.redis_keys import TRAFFIC_STREAM, TrafficEntry, prediction_key

log = logging.getLogger(__name__)


class TrafficLogger:
    """Buffer of traffic entries and the task that writes them to Redis."""

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
        self.capacity = capacity
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self.stream_maxlen = stream_maxlen
        self.prediction_ttl_s = prediction_ttl_s
        self._on_logged = on_logged
        self._on_dropped = on_dropped
        self._buffer: dict[str, TrafficEntry] = {}
        self._in_flight: dict[str, TrafficEntry] = {}
        # request id → prediction id, for requests that held one instance.
        self._aliases: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.logged = 0
        self.dropped = 0

    @property
    def depth(self) -> int:
        """Entries waiting in memory (buffered or being written)."""
        return len(self._buffer) + len(self._in_flight)

    def offer(self, entries: list[TrafficEntry]) -> None:
        """Queue ``entries``; those that do not fit in the buffer are dropped and counted."""
        room = self.capacity - self.depth
        if room < len(entries):
            self._drop(len(entries) - max(room, 0), "traffic buffer full")
            entries = entries[: max(room, 0)]
        for entry in entries:
            self._buffer[entry.id] = entry
        if len(entries) == 1 and entries[0].request_id != entries[0].id:
            self._aliases[entries[0].request_id] = entries[0].id
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    def pending(self, prediction_id: str) -> bool:
        """True while ``prediction_id`` (or a one-instance request id) is not yet in Redis."""
        prediction_id = self._aliases.get(prediction_id, prediction_id)
        return prediction_id in self._buffer or prediction_id in self._in_flight

    async def wait_written(self, prediction_id: str, timeout_s: float = 2.0) -> None:
        """Flush now and wait until ``prediction_id`` has left memory (written or dropped)."""
        async with asyncio.timeout(timeout_s):
            while self.pending(prediction_id):
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

    async def flush(self) -> None:
        """Write everything buffered now; on a Redis error the batch is dropped, then re-raised."""
        while self._buffer:
            self._in_flight, self._buffer = self._buffer, {}
            batch = list(self._in_flight.values())
            try:
                for start in range(0, len(batch), self.batch_size):
                    await self._write(batch[start : start + self.batch_size])
            except BaseException:
                self._drop(len(self._in_flight), "Redis unavailable")
                for entry in self._in_flight.values():
                    self._aliases.pop(entry.request_id, None)
                raise
            finally:
                self._in_flight = {}
            if self._failing:
                log.info("traffic logging recovered")
                self._failing = False

    async def _write(self, batch: list[TrafficEntry]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry in batch:
                fields = entry.encode()
                pipe.xadd(TRAFFIC_STREAM, fields, maxlen=self.stream_maxlen, approximate=True)  # type: ignore[arg-type]
                key = prediction_key(entry.id)
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
                pipe.expire(key, self.prediction_ttl_s)
                if self._aliases.get(entry.request_id) == entry.id:
                    alias = prediction_key(entry.request_id)
                    pipe.hset(alias, mapping=fields)  # type: ignore[arg-type]
                    pipe.expire(alias, self.prediction_ttl_s)
            await pipe.execute()
        # Entries written are removed from the in-flight set one batch at a time.
        for entry in batch:
            self._in_flight.pop(entry.id, None)
            if self._aliases.get(entry.request_id) == entry.id:
                del self._aliases[entry.request_id]
        self.logged += len(batch)
        self._on_logged(len(batch))

    def _drop(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        self.dropped += count
        self._on_dropped(count)
        if not self._failing:
            log.warning("dropping traffic entries: %s", reason, extra={"dropped": count})
            self._failing = True
