"""Traffic logging off the request path.

A request only appends one record (its ids, features, labels…) to a bounded in-memory deque:
no encoding, no I/O, O(1). A background task flushes the buffer every ``flush_interval_s``:
it packs each predicted instance into one string holding the fields of a
:class:`~mlops_common.redis_keys.TrafficEntry` and sends a batch as ONE command, a Lua script
(:data:`WRITE_SCRIPT`, cached server-side, EVALSHA) that runs, per instance,
``XADD traffic MAXLEN ~ n`` and ``SET prediction:<id> <id> EX ttl``, the key that lets feedback
check the id (a one-instance request also gets
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

from mlops_common.features import N_FEATURES
from mlops_common.redis_keys import TRAFFIC_STREAM, TrafficEntry, prediction_key

log = logging.getLogger(__name__)

#: The text fields of a traffic entry, in the order they are packed (the binary field
#: ``features`` goes first, at a fixed width).
TEXT_FIELDS: Final = (
    "id", "request_id", "ts", "model_version", "label", "confidence", "latency_ms",
)  # fmt: skip
_FEATURE_BYTES: Final = N_FEATURES * 4
_SEP: Final = "\x1f"  # ASCII unit separator; replaced where a text value could hold it

#: ARGV: maxlen, ttl, key prefix, the binary field's name and width, the text field names; then
#: one packed string per instance: the binary field, then alias (or ""), then the text values,
#: all joined by \31. KEYS[1]: the stream. One packed argument per instance, not one per field,
#: keeps the client's command encoding (per argument, in Python) off the flush's cost.
WRITE_SCRIPT: Final = """
local maxlen, ttl, prefix = ARGV[1], ARGV[2], ARGV[3]
local binary, width, n = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local first = 7 + n
local fields, written = {binary, false}, 0
for i = first, #ARGV do
  local packed = ARGV[i]
  fields[2] = string.sub(packed, 1, width)
  local values, start = {}, width + 1
  while true do
    local stop = string.find(packed, '\\31', start, true)
    if not stop then
      values[#values + 1] = string.sub(packed, start)
      break
    end
    values[#values + 1] = string.sub(packed, start, stop - 1)
    start = stop + 1
  end
  if #values ~= n + 1 then
    return redis.error_reply('traffic entry ' .. (i - first + 1) .. ' has ' .. #values .. ' values')
  end
  for j = 1, n do
    fields[1 + 2 * j] = ARGV[6 + j]
    fields[2 + 2 * j] = values[j + 1]
  end
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', unpack(fields))
  local id = values[2]
  redis.call('SET', prefix .. id, id, 'EX', ttl)
  if values[1] ~= '' then
    redis.call('SET', prefix .. values[1], id, 'EX', ttl)
  end
  written = written + 1
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

    def packed(self) -> list[bytes]:
        """One string per instance for :data:`WRITE_SCRIPT`: the same values as
        :meth:`TrafficEntry.encode <mlops_common.redis_keys.TrafficEntry.encode>` gives."""
        features = np.ascontiguousarray(self.features, dtype="<f4").tobytes()
        labels = np.asarray(self.labels).tolist()
        confidences = np.asarray(self.confidences, dtype=np.float64).tolist()
        request_id = self.request_id.replace(_SEP, " ")  # ids from OIP bodies are free text
        alias = request_id if len(self.ids) == 1 else ""
        shared = (
            _SEP + request_id + _SEP + repr(self.timestamp) + _SEP
            + self.model_version.replace(_SEP, " ") + _SEP
        )  # fmt: skip
        tail = _SEP + repr(float(self.latency_ms))
        return [
            features[i * _FEATURE_BYTES : (i + 1) * _FEATURE_BYTES]
            + (
                _SEP.join(("" if alias == identifier else alias, identifier))
                + shared + str(int(labels[i])) + _SEP + repr(confidences[i]) + tail
            ).encode()
            for i, identifier in enumerate(self.ids)
        ]  # fmt: skip

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
        head: list[Any] = [
            self.stream_maxlen,
            self.prediction_ttl_s,
            prediction_key(""),
            "features",
            _FEATURE_BYTES,
            len(TEXT_FIELDS),
            *TEXT_FIELDS,
        ]
        packed = [value for record in records for value in record.packed()]
        written = int(await self._script(keys=[TRAFFIC_STREAM], args=[*head, *packed]))
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
