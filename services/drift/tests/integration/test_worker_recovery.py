"""A check worker process that dies is replaced: the next check runs again."""

from __future__ import annotations

import asyncio
import signal
import time
from concurrent.futures import BrokenExecutor

import numpy as np
import pytest
from _drift_simulation import clean

from mlops_common.model_spec import parse_spec
from mlops_drift.detector import DriftConfig
from mlops_drift.metrics import DriftMetrics
from mlops_drift.monitor import DriftMonitor
from mlops_drift.reference import ProductionVersion, Reference, RegistryReferenceSource
from mlops_drift.window import SlidingWindow
from mlops_drift.worker import CheckWorker


@pytest.mark.slow
async def test_a_killed_worker_fails_one_check_then_is_replaced(digits, specs) -> None:  # type: ignore[no-untyped-def]
    worker = CheckWorker("process")
    window = SlidingWindow(500, 3600)
    monitor = DriftMonitor(
        window=window,
        source=RegistryReferenceSource("sqlite:///unused.db", "digits-classifier"),
        worker=worker,
        metrics=DriftMetrics().for_model("digits-classifier"),
        config=DriftConfig(),
        min_window_size=100,
    )
    version = ProductionVersion("digits-classifier", "1", "run")
    monitor.references.current = Reference(version, digits.reference, parse_spec(specs.digits()))
    x, _ = clean(digits.pool_x, digits.pool_y, 150, np.random.default_rng(5))
    window.add(digits.entries(x))
    try:
        first = await monitor.check()
        assert first.verdict.window_size == 150
        killed = worker.process  # the worker that ran the check
        assert killed is not None
        killed.kill()  # SIGKILL
        with pytest.raises(BrokenExecutor):
            await monitor.check()
        again = await monitor.check()
        assert again.verdict.window_size == 150
        assert worker.process is not killed
    finally:
        await worker.close()


@pytest.mark.slow
async def test_close_kills_a_worker_that_does_not_stop() -> None:
    """A hung check cannot hold a shutdown past its bound: the worker is killed."""
    worker = CheckWorker("process")
    hung = asyncio.create_task(worker.run(time.sleep, 120))
    deadline = time.monotonic() + 30
    while worker.process is None:  # the worker is spawned for the first job
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    process = worker.process
    await asyncio.sleep(0.5)  # the job is running in the worker now
    started = time.monotonic()
    await worker.close(timeout_s=1.0)
    assert time.monotonic() - started < 3.0
    await asyncio.to_thread(process.join, 10)
    assert process.exitcode == -signal.SIGKILL
    with pytest.raises(BrokenExecutor):
        await hung
