"""The consumer group on a real Redis: reads, decodes, acknowledges, skips what is malformed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import redis
from redis.asyncio import Redis

from mlops_common.features import FEATURE_NAMES
from mlops_common.redis_keys import DRIFT_CONSUMER_GROUP, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_drift.columns import MonitoredColumns
from mlops_drift.consumer import TrafficConsumer
from mlops_drift.metrics import DriftMetrics, ModelMetrics
from mlops_drift.window import SlidingWindow

TRAFFIC_STREAM = traffic_stream(MODEL_NAME)
#: the digits layout, as the digits spec monitors it
DIGITS = MonitoredColumns(tuple(FEATURE_NAMES), tuple(range(64)), "prediction", "confidence")


def consumer(url: str, window: SlidingWindow, metrics: ModelMetrics, **kwargs) -> TrafficConsumer:  # type: ignore[no-untyped-def]
    kwargs.setdefault("model", MODEL_NAME)
    return TrafficConsumer(
        Redis.from_url(url), window, metrics, consumer_name="t", block_ms=50, **kwargs
    )


def model_metrics(name: str = MODEL_NAME) -> ModelMetrics:
    return DriftMetrics().for_model(name)


async def test_reads_new_entries_and_acknowledges_them(
    redis_url: str,
    redis_db: redis.Redis,
    digits,
    helpers,  # type: ignore[no-untyped-def]
) -> None:
    helpers.add_traffic(redis_db, digits.entries(digits.pool_x[:5]))  # before the group: skipped
    window, metrics = SlidingWindow(100, 3600), model_metrics()
    reader = consumer(redis_url, window, metrics, width=lambda: 64)
    await reader.ensure_group()
    await reader.ensure_group()  # idempotent
    entries = digits.entries(digits.pool_x[5:45])
    helpers.add_traffic(redis_db, entries)
    redis_db.xadd(TRAFFIC_STREAM, {"id": "x", "features": b"short"})
    short = dataclasses.replace(entries[0], features=entries[0].features[:4])  # another width
    helpers.add_traffic(redis_db, [short])
    added = 0
    while (n := await reader.poll_once()) or added == 0:
        added += n
    assert added == 40
    assert len(window) == 40
    table = window.snapshot(DIGITS)
    np.testing.assert_allclose(table.iloc[0, :64].to_numpy(), entries[0].features, rtol=1e-6)
    assert table["prediction"].tolist() == [e.label for e in entries]
    assert redis_db.xpending(TRAFFIC_STREAM, DRIFT_CONSUMER_GROUP)["pending"] == 0
    assert metrics.bad_entries._value.get() == 2
    assert metrics.entries._value.get() == 40


@pytest.mark.parametrize("refilled", [False, True])
async def test_a_restarted_consumer_takes_what_it_never_acknowledged_once(
    redis_url: str,
    redis_db: redis.Redis,
    digits,
    helpers,  # type: ignore[no-untyped-def]
    refilled: bool,
) -> None:
    """A crash between XREADGROUP and XACK leaves entries pending for the consumer: the next
    process of the same name reads them first (once), then the new ones. Refilled from the
    stream first, its window has them already: read again, they are acknowledged, not added."""
    first = consumer(redis_url, SlidingWindow(100, 3600), model_metrics(), width=lambda: 64)
    await first.ensure_group()
    entries = digits.entries(digits.pool_x[:30])
    helpers.add_traffic(redis_db, entries[:20])
    # the first process read 20 entries and died before acknowledging them
    redis_db.xreadgroup(DRIFT_CONSUMER_GROUP, "t", {TRAFFIC_STREAM: ">"}, count=20)
    assert redis_db.xpending(TRAFFIC_STREAM, DRIFT_CONSUMER_GROUP)["pending"] == 20
    helpers.add_traffic(redis_db, entries[20:])
    window = SlidingWindow(100, 3600)
    restarted = consumer(redis_url, window, model_metrics(), width=lambda: 64)
    await restarted.ensure_group()
    if refilled:
        assert await restarted.refill() == 20
    read = [await restarted.poll_once() for _ in range(4)]
    assert read[:2] == ([0, 10] if refilled else [20, 10])
    table = window.snapshot(DIGITS)
    assert table["prediction"].tolist() == [e.label for e in entries]  # each once, in order
    assert redis_db.xpending(TRAFFIC_STREAM, DRIFT_CONSUMER_GROUP)["pending"] == 0


async def test_a_restarted_service_refills_its_window_from_what_the_group_delivered(
    redis_url: str,
    redis_db: redis.Redis,
    digits,
    helpers,  # type: ignore[no-untyped-def]
) -> None:
    """A new process does not start from an empty window: it takes the newest entries the group
    had delivered (those of the version that answered last), then reads on."""
    import asyncio

    first = consumer(redis_url, SlidingWindow(100, 3600), model_metrics(), width=lambda: 64)
    await first.ensure_group()
    old = digits.entries(digits.pool_x[:10], model_version="1")
    served = digits.entries(digits.pool_x[10:40], model_version="2")
    helpers.add_traffic(redis_db, old + served)
    while await first.poll_once():
        pass
    later = digits.entries(digits.pool_x[40:45], model_version="2")
    helpers.add_traffic(redis_db, later)  # arrives while no drift process runs

    window, metrics = SlidingWindow(25, 3600), model_metrics()
    restarted = consumer(redis_url, window, metrics, width=lambda: 64)
    task = asyncio.create_task(restarted.run())
    try:
        for _ in range(100):
            if metrics.entries._value.get() == 5:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
    # the newest 25 of version 2: 20 refilled (served[10:]) and the 5 read since
    table = window.snapshot(DIGITS)
    assert table["prediction"].tolist() == [e.label for e in served[10:] + later]
    assert metrics.entries._value.get() == 5  # counts what was read, not what was refilled
    assert metrics.window_size._value.get() == 25
    assert redis_db.xpending(TRAFFIC_STREAM, DRIFT_CONSUMER_GROUP)["pending"] == 0


async def test_a_group_made_at_start_refills_nothing(
    redis_url: str,
    redis_db: redis.Redis,
    digits,
    helpers,  # type: ignore[no-untyped-def]
) -> None:
    """With no group yet, nothing was delivered: what the stream held before is not taken."""
    import asyncio

    helpers.add_traffic(redis_db, digits.entries(digits.pool_x[:5]))
    window, metrics = SlidingWindow(100, 3600), model_metrics()
    reader = consumer(redis_url, window, metrics, width=lambda: 64)
    task = asyncio.create_task(reader.run())
    try:
        for _ in range(100):  # the reader has made its group (at the stream's end)
            if redis_db.xinfo_groups(TRAFFIC_STREAM):
                break
            await asyncio.sleep(0.05)
        helpers.add_traffic(redis_db, digits.entries(digits.pool_x[5:8]))
        for _ in range(100):
            if metrics.entries._value.get() == 3:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert len(window) == 3


async def test_earliest_start_reads_the_backlog_and_accept_filters(
    redis_url: str,
    redis_db: redis.Redis,
    digits,
    helpers,  # type: ignore[no-untyped-def]
) -> None:
    helpers.add_traffic(redis_db, digits.entries(digits.pool_x[:10], model_version="1"))
    helpers.add_traffic(redis_db, digits.entries(digits.pool_x[10:16], model_version="2"))
    window = SlidingWindow(100, 3600)
    reader = consumer(
        redis_url,
        window,
        model_metrics(),
        start_from="earliest",
        accept=lambda entry: entry.model_version == "2",
    )
    await reader.ensure_group()
    assert await reader.poll_once() == 6
    assert len(window) == 6


async def test_survives_a_deleted_stream(
    redis_url: str,
    redis_db: redis.Redis,
    digits,
    helpers,  # type: ignore[no-untyped-def]
) -> None:
    import asyncio

    window = SlidingWindow(100, 3600)
    reader = consumer(redis_url, window, model_metrics())
    task = asyncio.create_task(reader.run())
    try:
        for _ in range(100):  # the reader has made its group (at the stream's end)
            if redis_db.exists(TRAFFIC_STREAM) and redis_db.xinfo_groups(TRAFFIC_STREAM):
                break
            await asyncio.sleep(0.05)
        redis_db.delete(TRAFFIC_STREAM)  # the group goes with it: NOGROUP, then re-created
        # Written at once, before the reader has noticed: re-created at the new stream's
        # start, the group still gets every entry.
        helpers.add_traffic(redis_db, digits.entries(digits.pool_x[:7]))
        for _ in range(100):
            if len(window) == 7:
                break
            await asyncio.sleep(0.05)
        assert len(window) == 7
    finally:
        task.cancel()


async def test_each_model_reads_its_own_stream(
    redis_url: str,
    redis_db: redis.Redis,
    digits,
    flowers,
    helpers,  # type: ignore[no-untyped-def]
) -> None:
    digits_window, flowers_window = SlidingWindow(100, 3600), SlidingWindow(100, 3600)
    readers = [
        consumer(redis_url, digits_window, model_metrics(), width=lambda: 64),
        consumer(
            redis_url,
            flowers_window,
            model_metrics("flowers-classifier"),
            model="flowers-classifier",
            width=lambda: 4,
        ),
    ]
    for reader in readers:
        await reader.ensure_group()
    helpers.add_traffic(redis_db, digits.entries(digits.pool_x[:5]))
    helpers.add_traffic(redis_db, flowers.entries(flowers.pool[:3]), model="flowers-classifier")
    assert [await reader.poll_once() for reader in readers] == [5, 3]
    assert readers[1].stream == "traffic:flowers-classifier"
    assert redis_db.xinfo_groups("traffic:flowers-classifier")[0]["name"] == b"drift"
