"""What the flush writes to a real Redis is exactly the shared ``TrafficEntry`` encoding.

The gateway packs each instance into one argument for its Lua script (for speed); these tests
pin that the stream still holds, field by field, what ``TrafficEntry.encode`` gives, and that
the ``prediction:<id>`` keys feedback relies on are set with their TTL.
"""

from __future__ import annotations

import asyncio

import numpy as np
from redis.asyncio import Redis

from mlops_common.redis_keys import TRAFFIC_STREAM, TrafficEntry, prediction_key
from mlops_common.testing.servers import RedisServer
from mlops_gateway.traffic import TrafficLogger, TrafficRecord


def _record(n: int, request_id: str, version: str = "7") -> TrafficRecord:
    rng = np.random.default_rng(n)
    return TrafficRecord(
        request_id=request_id,
        model_version=version,
        ids=[f"{request_id.replace(chr(31), '_')}-{i}" for i in range(n)],
        features=(rng.random((n, 64)) * 16).astype(np.float32),
        labels=np.arange(n) % 10,
        confidences=rng.random(n).astype(np.float32),
        latency_ms=1.234567,
        timestamp=1_700_000_000.123456,
    )


async def _write_and_read(url: str, records: list[TrafficRecord]) -> tuple[list, Redis]:
    redis = Redis.from_url(url)
    logger = TrafficLogger(redis, prediction_ttl_s=600)
    for record in records:
        logger.offer(record)
    await logger.flush()
    assert logger.logged == sum(len(r.ids) for r in records)
    return await redis.xrange(TRAFFIC_STREAM), redis


def test_stream_entries_equal_the_shared_encoding(redis_server: RedisServer) -> None:
    records = [_record(1, "single"), _record(3, "multi"), _record(1, "odd\x1fid", "v\x1f2")]

    async def scenario() -> None:
        rows, redis = await _write_and_read(redis_server.url, records)
        try:
            expected = [
                entry for r in records for entry in r.entries()
            ]  # one per instance, in order
            assert len(rows) == len(expected) == 5
            for (_, fields), entry in zip(rows, expected, strict=True):
                want = {k.encode(): (v if isinstance(v, bytes) else v.encode())
                        for k, v in entry.encode().items()}  # fmt: skip
                if "\x1f" in entry.request_id:  # the separator is replaced, nothing else
                    want[b"request_id"] = b"odd id"
                    want[b"model_version"] = b"v 2"
                assert fields == want
                decoded = TrafficEntry.decode(fields)
                assert decoded.features.tobytes() == entry.features.astype("<f4").tobytes()
                assert decoded.confidence == float(entry.confidence)
            for entry in expected:
                assert await redis.get(prediction_key(entry.id)) == entry.id.encode()
                assert 0 < await redis.ttl(prediction_key(entry.id)) <= 600
            # A one-instance request's id also names its prediction; a multi one's does not.
            assert await redis.get(prediction_key("single")) == b"single-0"
            assert await redis.get(prediction_key("odd id")) == b"odd_id-0"
            assert await redis.get(prediction_key("multi")) is None
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_a_large_flush_is_split_into_batches(redis_server: RedisServer) -> None:
    records = [_record(1, f"r{i}") for i in range(1_200)]

    async def scenario() -> None:
        redis = Redis.from_url(redis_server.url)
        logger = TrafficLogger(redis, batch_size=500)
        try:
            for record in records:
                logger.offer(record)
            await logger.flush()
            assert logger.logged == 1_200
            assert logger.depth == 0
            assert await redis.xlen(TRAFFIC_STREAM) == 1_200
        finally:
            await redis.aclose()

    asyncio.run(scenario())
