"""What the flush writes to a real Redis is exactly the shared ``TrafficEntry`` encoding.

These tests pin that the stream holds, field by field, what ``TrafficEntry.encode`` gives, that
the prediction-id index feedback relies on holds every id with its expiry, and that refused
writes are counted (and logged once), not lost silently.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from mlops_common.redis_keys import TrafficEntry, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.servers import RedisServer
from mlops_common.testing.traffic import indexed_prediction
from mlops_gateway.traffic import TrafficLogger, TrafficRecord

STREAM = traffic_stream(MODEL_NAME)


def _record(n: int, request_id: str, version: str = "7") -> TrafficRecord:
    rng = np.random.default_rng(n)
    return TrafficRecord(
        model=MODEL_NAME,
        request_id=request_id,
        model_version=version,
        ids=[f"{request_id}-{i}" for i in range(n)],
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
    return await redis.xrange(STREAM), redis


def test_stream_entries_equal_the_shared_encoding(redis_server: RedisServer) -> None:
    records = [_record(1, "single"), _record(3, "multi"), _record(1, "odd\r\n$3 ïd", "v\x1f2")]

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
                assert fields == want
                decoded = TrafficEntry.decode(fields)
                assert decoded.features.tobytes() == entry.features.astype("<f4").tobytes()
                assert decoded.confidence == float(entry.confidence)
            sync = SyncRedis.from_url(redis_server.url)

            def named(identifier: str) -> str | None:
                found = indexed_prediction(sync, identifier, 600)
                if found is not None:
                    assert 599 <= found[1] <= 600 + 3600  # the TTL, at most an hour more
                return None if found is None else found[0]

            for entry in expected:
                assert named(entry.id) == entry.id
            # A one-instance request's id also names its prediction; a multi one's does not.
            assert named("single") == "single-0"
            assert named("odd\r\n$3 ïd") == "odd\r\n$3 ïd-0"
            assert named("multi") is None
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_a_large_flush_is_split_into_batches(redis_server: RedisServer) -> None:
    records = [_record(1, f"r{i}") for i in range(1_200)]

    async def scenario() -> None:
        redis = Redis.from_url(redis_server.url)
        logger = TrafficLogger(redis, batch_size=500, prediction_ttl_s=600)
        try:
            for record in records:
                logger.offer(record)
            await logger.flush()
            assert logger.logged == 1_200
            assert logger.depth == 0
            assert await redis.xlen(STREAM) == 1_200
            # the index holds every id and alias (HSETs of 500 values at a time in its script)
            sync = SyncRedis.from_url(redis_server.url)
            for i in (0, 249, 250, 499, 500, 1_199):
                assert indexed_prediction(sync, f"r{i}-0", 600) is not None
                assert indexed_prediction(sync, f"r{i}", 600) is not None
            sync.close()
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_refused_writes_are_counted_and_the_connection_stays_usable(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis answers errors (here WRONGTYPE): dropped and counted; later flushes recover."""
    sync = SyncRedis.from_url(redis_server.url)

    async def scenario() -> None:
        redis = Redis.from_url(redis_server.url)
        logger = TrafficLogger(redis)
        try:
            sync.set(STREAM, "not a stream")
            for _ in range(2):
                logger.offer(_record(3, "refused"))
                await logger.flush()
            assert (logger.logged, logger.dropped) == (0, 6)
            assert caplog.text.count("Redis refused them") == 1  # logged once, counted each time
            assert "WRONGTYPE" in caplog.text
            assert sync.ping()  # every reply was read: the pooled connection is in step

            sync.delete(STREAM)
            logger.offer(_record(2, "after"))
            await logger.flush()
            assert (logger.logged, logger.dropped) == (2, 6)
            assert await redis.xlen(STREAM) == 2
            assert "traffic logging recovered" in caplog.text
        finally:
            await redis.aclose()

    with caplog.at_level(logging.INFO, logger="mlops_gateway.traffic"):
        asyncio.run(scenario())
    sync.delete(STREAM)


def test_records_of_other_layouts_in_one_flush_are_written_each_as_encoded(
    redis_server: RedisServer,
) -> None:
    """A version swap may change what a model logs between two requests of one batch: another
    width, or texts; each layout goes as its own script call, every entry as encode gives it."""
    narrow = TrafficRecord(
        model=MODEL_NAME, request_id="narrow", model_version="8", ids=["narrow-0", "narrow-1"],
        features=np.arange(6, dtype=np.float32).reshape(2, 3), labels=[1, 2],
        confidences=np.array([0.5, 0.25], np.float32), latency_ms=2.0, timestamp=1.5,
        texts=["ünïcode text", "a\x1fb"],
    )  # fmt: skip
    records = [_record(2, "wide"), narrow, _record(1, "wide\x1fagain")]  # \x1f: packed, not joined

    async def scenario() -> None:
        rows, redis = await _write_and_read(redis_server.url, records)
        try:
            by_id = {fields[b"id"].decode(): fields for _, fields in rows}
            assert len(rows) == 5
            for record in records:
                for entry in record.entries():
                    want = {k.encode(): (v if isinstance(v, bytes) else v.encode())
                            for k, v in entry.encode().items()}  # fmt: skip
                    assert by_id[entry.id] == want
            sync = SyncRedis.from_url(redis_server.url)
            assert (indexed_prediction(sync, "wide\x1fagain", 600) or ("",))[0] == "wide\x1fagain-0"
            assert (indexed_prediction(sync, "narrow-1", 600) or ("",))[0] == "narrow-1"
            sync.close()
        finally:
            await redis.aclose()

    asyncio.run(scenario())
