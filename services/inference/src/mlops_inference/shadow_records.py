"""The shadow records' way to Redis: buffered by candidate batch, written off the event loop.

:class:`ShadowRecordWriter` keeps the records of each candidate batch (a bounded buffer: when
Redis is slow the oldest batches go, counted as ``unwritten``) and every ``flush_interval_s``
writes them to ``shadow:<model>`` in one pipeline of ``XADD ... MAXLEN ~`` with *one entry per
candidate batch* (:func:`~mlops_common.shadow.encode_batch`: an entry per request made the write
most of the shadow's cost), from a thread of its own with the synchronous redis-py client (with
hiredis it packs commands in C, so writes cost the event loop little). When Redis fails the
records are dropped and counted, logged once (and the recovery once).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prometheus_client import Counter
from redis import Redis
from redis.exceptions import RedisError

from mlops_common.shadow import SHADOW_STREAM_MAXLEN, ShadowRecord, encode_batch, shadow_stream

log = logging.getLogger(__name__)

#: Seconds between two writes of the buffered records to Redis.
FLUSH_INTERVAL_S = 0.2
#: Most records kept while Redis is slow; older ones are dropped (counted as unwritten).
BUFFER_LIMIT = 10_000


class ShadowRecordWriter:
    """Buffers one model's shadow records by candidate batch and writes them to its stream."""

    def __init__(
        self,
        name: str,
        redis: Redis,
        unwritten: Counter,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.name = name
        self._redis = redis
        self._stream = shadow_stream(name)
        self._unwritten = unwritten
        self._flush_interval = flush_interval_s
        #: Buffered records, one list per stream entry (a candidate batch), and their count.
        self.batches: list[list[ShadowRecord]] = []
        self._buffered = 0
        self._redis_ok = True
        self._writer = ThreadPoolExecutor(1, f"shadow-write-{name}")

    def add(self, records: list[ShadowRecord]) -> None:
        """Buffer the records of one candidate batch (one stream entry)."""
        self.batches.append(records)
        self._buffered += len(records)
        while self._buffered > BUFFER_LIMIT:  # Redis is slow: the oldest batches go
            dropped = self.batches.pop(0)
            self._buffered -= len(dropped)
            self._unwritten.inc(len(dropped))

    async def run(self) -> None:
        """Flush every ``flush_interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self._flush_interval)
            await self.flush()

    async def close(self) -> None:
        """Write what is buffered (best effort) and stop the writer thread."""
        await self.flush()
        self._writer.shutdown(wait=True)

    async def flush(self) -> None:
        """Write the buffered records to ``shadow:<model>`` in one pipeline (in a thread)."""
        if not self.batches:
            return
        batches, count = self.batches, self._buffered
        self.batches, self._buffered = [], 0
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._writer, self.write, batches)
        except (RedisError, OSError) as exc:
            self._unwritten.inc(count)
            if self._redis_ok:
                self._redis_ok = False
                log.warning(
                    "shadow records not written; dropping them until Redis answers",
                    extra={"model": self.name, "reason": str(exc)},
                )
            return
        if not self._redis_ok:
            self._redis_ok = True
            log.info("shadow records written again", extra={"model": self.name})

    def write(self, batches: list[list[ShadowRecord]]) -> None:
        """One pipeline of ``XADD shadow:<model> MAXLEN ~ N``, an entry per batch (blocking)."""
        with self._redis.pipeline(transaction=False) as pipe:
            for records in batches:
                fields: dict[Any, Any] = encode_batch(records)
                pipe.xadd(self._stream, fields, maxlen=SHADOW_STREAM_MAXLEN, approximate=True)
            pipe.execute()
