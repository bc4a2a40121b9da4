"""The batcher under concurrency: own rows back, mixed sizes, errors confined, cancellation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from mlops_inference.batcher import Arrays, Batcher
from mlops_inference.errors import QueueFullError, ShuttingDownError

POISON = -1.0


class Recorder:
    """A runner that doubles its input, records batch sizes, and fails on poisoned rows."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.batches: list[int] = []
        self.seen_rows: list[float] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # a batch reached the runner

    def __call__(self, inputs: Arrays) -> tuple[Arrays, str]:
        self.entered.set()
        self.gate.wait(5)
        x = inputs["x"]
        self.batches.append(len(x))
        self.seen_rows.extend(x[:, 0].tolist())
        if self.delay:
            time.sleep(self.delay)
        if (x == POISON).any():
            raise ValueError("poisoned row")
        return {"y": x * 2, "z": x[:, :1] + 1}, "v1"


def rows(start: float, n: int, width: int = 4) -> Arrays:
    return {"x": (np.arange(n * width, dtype=np.float32).reshape(n, width) + start * 1000)}


async def until(condition: Callable[[], bool]) -> None:
    """Return as soon as ``condition()`` holds; fail if it does not within 5 s."""
    deadline = time.monotonic() + 5.0
    while not condition():
        assert time.monotonic() < deadline, "the awaited state never came"
        await asyncio.sleep(0.001)


@pytest.mark.parametrize("inline", [False, True])
async def test_each_caller_gets_exactly_its_rows_with_mixed_sizes(inline: bool) -> None:
    runner = Recorder(delay=0.002)
    batcher = Batcher(runner, max_batch_size=32, max_wait_s=0.001, inline=lambda rows: inline)
    batcher.start()
    sizes = [1, 3, 7, 2, 16, 5, 1, 9] * 8
    requests = [rows(i, n) for i, n in enumerate(sizes)]
    results = await asyncio.gather(*[batcher.submit(req, len(req["x"])) for req in requests])
    await batcher.stop()
    for req, (outputs, version) in zip(requests, results, strict=True):
        assert version == "v1"
        np.testing.assert_array_equal(outputs["y"], req["x"] * 2)
        np.testing.assert_array_equal(outputs["z"], req["x"][:, :1] + 1)
    assert sum(runner.batches) == sum(sizes)
    assert max(runner.batches) <= 32
    assert len(runner.batches) < len(sizes), "concurrent requests were never batched"


@pytest.mark.parametrize("inline", [False, True])
async def test_a_failure_reaches_only_the_requests_that_caused_it(inline: bool) -> None:
    runner = Recorder(delay=0.002)
    batcher = Batcher(runner, max_batch_size=64, inline=lambda rows: inline)
    batcher.start()
    requests = [rows(i, 2) for i in range(30)]
    for bad in (4, 17):
        requests[bad]["x"][1, 2] = POISON
    results = await asyncio.gather(
        *[batcher.submit(r, 2) for r in requests], return_exceptions=True
    )
    await batcher.stop()
    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [4, 17]
    assert all(isinstance(results[i], ValueError) for i in failed)
    for i, result in enumerate(results):
        if i not in failed:
            assert not isinstance(result, BaseException)
            np.testing.assert_array_equal(result[0]["y"], requests[i]["x"] * 2)


async def test_cancelled_requests_are_dropped_before_they_run() -> None:
    runner = Recorder()
    runner.gate.clear()  # hold the first batch so the others queue up
    batcher = Batcher(runner, max_batch_size=64)
    batcher.start()
    first = asyncio.create_task(batcher.submit(rows(0, 1), 1))
    await until(runner.entered.is_set)  # the first batch is held in the runner
    doomed = asyncio.create_task(batcher.submit(rows(7, 1), 1))
    kept = asyncio.create_task(batcher.submit(rows(8, 1), 1))
    await until(lambda: batcher.depth == 2)
    doomed.cancel()
    runner.gate.set()
    await asyncio.gather(first, kept)
    with pytest.raises(asyncio.CancelledError):
        await doomed
    await batcher.stop()
    assert 7000.0 not in runner.seen_rows
    assert 8000.0 in runner.seen_rows
    np.testing.assert_array_equal(kept.result()[0]["y"], rows(8, 1)["x"] * 2)


async def test_a_lone_request_is_dispatched_at_once_even_with_a_long_wait() -> None:
    batcher = Batcher(Recorder(), max_batch_size=64, max_wait_s=1.0)
    batcher.start()
    started = time.perf_counter()
    await batcher.submit(rows(0, 1), 1)
    elapsed = time.perf_counter() - started
    await batcher.stop()
    assert elapsed < 0.2


async def test_full_queue_is_refused_with_resource_exhausted() -> None:
    runner = Recorder()
    runner.gate.clear()
    batcher = Batcher(runner, max_batch_size=1, max_queue_size=2)
    batcher.start()
    running = asyncio.create_task(batcher.submit(rows(0, 1), 1))
    await until(runner.entered.is_set)  # taken by the loop, blocked in the runner
    queued = [asyncio.create_task(batcher.submit(rows(i, 1), 1)) for i in (1, 2)]
    await until(lambda: batcher.depth == 2)
    with pytest.raises(QueueFullError, match="queue is full"):
        await batcher.submit(rows(3, 1), 1)
    runner.gate.set()
    await asyncio.gather(running, *queued)
    await batcher.stop()


async def test_different_layouts_never_share_a_batch() -> None:
    runner = Recorder(delay=0.01)
    batcher = Batcher(runner, max_batch_size=64)
    batcher.start()
    narrow = [rows(i, 1, width=4) for i in range(5)]
    wide = [rows(i, 1, width=6) for i in range(5)]
    mixed = [r for pair in zip(narrow, wide, strict=True) for r in pair]
    results = await asyncio.gather(*[batcher.submit(r, 1) for r in mixed])
    await batcher.stop()
    for req, (outputs, _) in zip(mixed, results, strict=True):
        np.testing.assert_array_equal(outputs["y"], req["x"] * 2)


async def test_stop_fails_what_is_queued_and_refuses_new_work() -> None:
    runner = Recorder()
    runner.gate.clear()
    batcher = Batcher(runner, max_batch_size=1)
    batcher.start()
    running = asyncio.create_task(batcher.submit(rows(0, 1), 1))
    await until(runner.entered.is_set)
    queued = asyncio.create_task(batcher.submit(rows(1, 1), 1))
    await until(lambda: batcher.depth == 1)
    stopping = asyncio.create_task(batcher.stop())
    await asyncio.sleep(0)  # stop() runs to its first await: closed, batching loop cancelled
    runner.gate.set()
    await stopping
    assert running.result()[1] == "v1"  # the running batch finished
    with pytest.raises(ShuttingDownError):
        await queued
    with pytest.raises(ShuttingDownError):
        await batcher.submit(rows(2, 1), 1)


async def test_no_batch_exceeds_max_rows_under_heavy_concurrency() -> None:
    runner = Recorder(delay=0.001)
    batcher = Batcher(runner, max_batch_size=8, max_wait_s=0.002)
    batcher.start()
    sizes = [1, 2, 3, 8] * 25
    await asyncio.gather(*[batcher.submit(rows(i, n), n) for i, n in enumerate(sizes)])
    await batcher.stop()
    assert max(runner.batches) <= 8
    assert sum(runner.batches) == sum(sizes)


Tasks = list[asyncio.Task[object] | None]


def started_fast_batcher(quiet_s: float) -> tuple[Batcher[str], Tasks]:
    """A started batcher of a model fast enough to run inline, and the tasks its runs ran in."""
    tasks: Tasks = []

    def runner(inputs: Arrays) -> tuple[Arrays, str]:
        tasks.append(asyncio.current_task())
        return {"y": inputs["x"] * 2}, "v1"

    batcher = Batcher(runner, max_batch_size=64, inline=lambda rows: True, quiet_s=quiet_s)
    batcher.start()
    return batcher, tasks


async def test_a_lone_fast_request_runs_in_its_callers_task_and_a_burst_still_batches() -> None:
    batcher, tasks = started_fast_batcher(quiet_s=0.001)
    caller = asyncio.create_task(batcher.submit(rows(0, 1), 1))
    await caller
    assert tasks == [caller]  # straight through: no queue, no batcher task
    await asyncio.sleep(0.002)
    burst = [asyncio.create_task(batcher.submit(rows(i, 1), 1)) for i in range(6)]
    results = await asyncio.gather(*burst)
    await batcher.stop()
    assert [r[0]["y"][0, 0] for r in results] == [rows(i, 1)["x"][0, 0] * 2 for i in range(6)]
    assert tasks[1] is burst[0]  # the first of the burst was alone when it came
    assert len(tasks) < 1 + len(burst)  # the rest came back to back and were batched
    assert burst[1] not in tasks


def test_the_quiet_spell_is_timed_finer_than_the_loops_millisecond_clock() -> None:
    """uvloop (what the service runs on) tells ``loop.time()`` in whole milliseconds (libuv's
    ``uv_now``): a quiet spell of under a millisecond measured with it reads 0 about half the
    time, and a lone request then missed the straight path (found on a fast host: c=1 p50 1.14x
    that of batching off)."""
    import uvloop

    async def main() -> tuple[asyncio.Task[object] | None, Tasks]:
        batcher, ran_in = started_fast_batcher(quiet_s=0.0002)
        for i in range(20):
            time.sleep(0.0004)  # noqa: ASYNC251 - a quiet spell of 0.4 ms (or a bit more), no loop pass needed
            await batcher.submit(rows(i, 1), 1)
        await batcher.stop()
        return asyncio.current_task(), ran_in

    caller, ran_in = uvloop.run(main())
    assert ran_in == [caller] * 20  # every one alone and quiet: straight through
