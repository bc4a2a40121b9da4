"""A check worker process that dies is replaced: the next check runs again."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor

import numpy as np
import pytest
from _drift_simulation import clean

from mlops_drift.detector import DriftConfig
from mlops_drift.metrics import DriftMetrics
from mlops_drift.monitor import DriftMonitor
from mlops_drift.reference import ProductionVersion, Reference, RegistryReferenceSource
from mlops_drift.window import SlidingWindow


@pytest.mark.slow
async def test_a_killed_worker_fails_one_check_then_is_replaced(digits) -> None:  # type: ignore[no-untyped-def]
    pools: list[ProcessPoolExecutor] = []

    def factory() -> ProcessPoolExecutor:
        pools.append(
            ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        )
        return pools[-1]

    window = SlidingWindow(500, 3600)
    monitor = DriftMonitor(
        window=window,
        source=RegistryReferenceSource("sqlite:///unused.db", "digits-classifier"),
        executor_factory=factory,
        metrics=DriftMetrics(),
        config=DriftConfig(),
        min_window_size=100,
    )
    version = ProductionVersion("digits-classifier", "1", "run")
    monitor.reference = Reference(version, digits.reference)
    x, _ = clean(digits.pool_x, digits.pool_y, 150, np.random.default_rng(5))
    window.add(digits.entries(x))
    try:
        first = await monitor.check()
        assert first.verdict.window_size == 150
        for pid in list(pools[0]._processes):  # the worker that ran the check
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(BrokenExecutor):
            await monitor.check()
        assert len(pools) == 2
        again = await monitor.check()
        assert again.verdict.window_size == 150
    finally:
        await monitor.close()


@pytest.mark.slow
async def test_close_kills_a_worker_that_does_not_stop() -> None:
    """A hung check cannot hold a shutdown past its bound: the worker is killed."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    monitor = DriftMonitor(
        window=SlidingWindow(500, 3600),
        source=RegistryReferenceSource("sqlite:///unused.db", "digits-classifier"),
        executor_factory=lambda: pool,
        metrics=DriftMetrics(),
        config=DriftConfig(),
        min_window_size=100,
    )
    hung = asyncio.get_running_loop().run_in_executor(pool, time.sleep, 120)
    deadline = time.monotonic() + 30
    while not pool._processes:  # the worker is spawned for the first job
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    (worker,) = list(pool._processes.values())
    await asyncio.sleep(0.5)  # the job is running in the worker now
    started = time.monotonic()
    await monitor.close(timeout_s=1.0)
    assert time.monotonic() - started < 3.0
    await asyncio.to_thread(worker.join, 10)
    assert worker.exitcode == -signal.SIGKILL
    with pytest.raises(BrokenExecutor):
        await hung
