"""Traffic logging off the request path.

A request only appends one record (its ids, features, labels…) to a bounded in-memory deque:
no encoding, no I/O, O(1). A background task flushes the buffer every ``flush_interval_s``: it
encodes each predicted instance as a :class:`~mlops_common.redis_keys.TrafficEntry` and sends a
batch as ONE command, a Lua script (:data:`WRITE_SCRIPT`, cached server-side, EVALSHA) that
runs, per instance, ``XADD traffic MAXLEN ~ n`` and ``SET prediction:<id> <id> EX ttl``, the
key that lets feedback check the id (a one-instance request also gets
``prediction:<request_id>`` → its prediction id). One reply per flush, not two per instance.
When the buffer is full, or Redis is down, entries are dropped and counted; the first failure is
logged once, and so is the recovery. Memory stays bounded (``capacity`` instances).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from redis.asyncio import Redis
from redis.exceptions import RedisError

from mlops_common.redis_keys import TRAFFIC_STREAM, TrafficEntry, prediction_key

log = logging.getLogger(__name__)

#: ARGV: maxlen, ttl, key prefix, n field names, the names; then per instance an alias (or "")
#: and the n field values (the first one is the prediction id). KEYS[1]: the stream.
WRITE_SCRIPT: Final = """
local maxlen, ttl, prefix, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local fields, i, written = {}, 5 + n, 0
while i <= #ARGV do
  for j = 1, n do
    fields[2 * j - 1] = ARGV[4 + j]
    fields[2 * j] = ARGV[i + j]
  end
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', unpack(fields))
  local id = ARGV[i + 1]
  redis.call('SET', prefix .. id, id, 'EX', ttl)
  if ARGV[i] ~= '' then
    redis.call('SET', prefix .. ARGV[i], id, 'EX', ttl)
  end
  written = written + 1
  i = i + 1 + n
end
return written
"""


@dataclass(frozen=True, slots=True)
class TrafficRecord:
    """One prediction request as it waits in memory: ``n`` instances, not yet encoded."""

    request_id: str
    model_version: str
    ids: Sequence[str]
    features: NDArray[np.float32]
    labels: Sequence[int]
    confidences: Sequence[float]
    latency_ms: float
    timestamp: float

    def entries(self) -> list[TrafficEntry]:
        """The stream entries of this request, one per instance."""
        return [
            TrafficEntry(
                id=self.ids[i],
                request_id=self.request_id,
                model_version=self.model_version,
                features=self.features[i],
                label=int(self.labels[i]),
                confidence=float(self.confidences[i]),
                latency_ms=self.latency_ms,
                timestamp=self.timestamp,
            )
            for i in range(len(self.ids))
        ]

    def head(self, n: int) -> TrafficRecord:
        """The record of its first ``n`` instances only."""
        return TrafficRecord(
            self.request_id,
            self.model_version,
            self.ids[:n],
            self.features[:n],
            self.labels[:n],
            self.confidences[:n],
            self.latency_ms,
            self.timestamp,
        )

    def names(self, identifier: str) -> bool:
        """True when ``identifier`` is one of its prediction ids (or its one-instance request)."""
        if len(self.ids) == 1 and identifier == self.request_id:
            return True
        return identifier in self.ids


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
        self._script = redis.register_script(WRITE_SCRIPT)
        self.capacity = capacity
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self.stream_maxlen = stream_maxlen
        self.prediction_ttl_s = prediction_ttl_s
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
                await self._write(self._in_flight)
            except BaseException:
                # Redis is away: drop this batch and what waits behind it (each retry would
                # cost a timeout); later requests try again.
                self._drop(self._in_flight_count + self._buffered, "Redis unavailable")
                self._buffer.clear()
                self._buffered = 0
                raise
            finally:
                self._in_flight, self._in_flight_count = [], 0
            if self._failing:
                log.info("traffic logging recovered")
                self._failing = False

    async def _write(self, records: list[TrafficRecord]) -> None:
        names: list[str] = []
        values: list[Any] = []
        for record in records:
            alias = record.request_id if len(record.ids) == 1 else ""
            for entry in record.entries():
                fields = entry.encode()
                if not names:
                    names = list(fields)
                    assert names[0] == "id", "the script takes the prediction id first"
                values.append("" if alias == entry.id else alias)
                values.extend(fields.values())
        head: list[Any] = [
            self.stream_maxlen,
            self.prediction_ttl_s,
            prediction_key(""),
            len(names),
            *names,
        ]
        written = int(await self._script(keys=[TRAFFIC_STREAM], args=[*head, *values]))
        self.logged += written
        self._on_logged(written)

    def _drop(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        self.dropped += count
        self._on_dropped(count)
        if not self._failing:
            log.warning("dropping traffic entries: %s", reason, extra={"dropped": count})
            self._failing = True
