"""The drift monitor: reference, window, checks off the event loop, verdict, retrain trigger.

Owned by the event loop. Everything slow runs elsewhere: MLflow calls in a thread, Evidently in
the check executor (a worker process by default), so ``/v1/drift/status`` and ``/metrics``
answer from memory while a check runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd

from mlops_common.redis_keys import TrafficEntry
from mlops_drift.detector import (
    DriftConfig,
    DriftVerdict,
    check_drift,
    render_report,
    warm_up,
)
from mlops_drift.metrics import DriftMetrics
from mlops_drift.reference import (
    Reference,
    ReferenceError,
    RegistryReferenceSource,
)
from mlops_drift.trigger import RetrainTrigger
from mlops_drift.window import SlidingWindow

log = logging.getLogger(__name__)

T = TypeVar("T")


class NoReferenceError(RuntimeError):
    """No production model with a reference sample is known yet."""

    code = "no_reference"


class WindowTooSmallError(RuntimeError):
    """The window holds fewer rows than a verdict needs."""

    code = "window_too_small"


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """A verdict and the retrain it queued, if any."""

    verdict: DriftVerdict
    retrain_job_id: str | None


class DriftMonitor:
    """Holds the state of the service and runs checks."""

    def __init__(
        self,
        *,
        window: SlidingWindow,
        source: RegistryReferenceSource,
        executor_factory: Callable[[], Executor],
        metrics: DriftMetrics,
        config: DriftConfig,
        min_window_size: int,
        trigger: RetrainTrigger | None = None,
    ) -> None:
        self.window = window
        self.source = source
        self.metrics = metrics
        self.config = config
        self.min_window_size = min_window_size
        self.trigger = trigger
        self._executor_factory = executor_factory
        self._executor = executor_factory()
        self.reference: Reference | None = None
        self.reference_error: str | None = None
        self._retired_version: str | None = None
        self.last: DriftVerdict | None = None
        self._last_frames: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self._report: tuple[float, str] | None = None
        self._check_lock = asyncio.Lock()
        self._report_lock = asyncio.Lock()
        self._reference_lock = asyncio.Lock()
        self._rows_at_last_check = 0

    # -- reference ---------------------------------------------------------------------------

    def accept(self, entry: TrafficEntry) -> bool:
        """Keep traffic unless it was answered by the model version production replaced."""
        return entry.model_version != self._retired_version

    async def refresh_reference(self) -> bool:
        """Load the production version's reference if production changed; True when it did."""
        async with self._reference_lock:
            version = await asyncio.to_thread(self.source.production_version)
            current = self.reference.version if self.reference else None
            if version is None or version == current:
                return False
            try:
                reference = await asyncio.to_thread(self.source.load, version)
            except ReferenceError as exc:
                self.reference_error = str(exc)
                log.error("reference not loaded", extra={"error": str(exc)})
                return False
            if current is not None:
                # the window's predictions and the verdict were about the old model: start afresh
                self._retired_version = current.version
                self.window.clear()
                self.last, self._last_frames, self._report = None, None, None
                self.metrics.reset_verdict()
            self.reference, self.reference_error = reference, None
            self.metrics.set_reference(version.name, version.version)
            log.info(
                "reference loaded",
                extra={"model_version": version.version, "rows": len(reference)},
            )
            return True

    # -- checks ------------------------------------------------------------------------------

    def due(self, min_new_rows: int) -> bool:
        """True when a periodic check has enough rows, enough of them new."""
        new_rows = self.window.added_total - self._rows_at_last_check
        return (
            self.reference is not None
            and len(self.window) >= self.min_window_size
            and new_rows >= max(1, min_new_rows)
        )

    async def check(self) -> CheckOutcome:
        """Run one check of the window against the reference and act on the verdict.

        Raises:
            NoReferenceError: no reference is loaded.
            WindowTooSmallError: fewer rows than ``min_window_size``.
        """
        async with self._check_lock:
            reference = self.reference
            if reference is None:
                detail = f": {self.reference_error}" if self.reference_error else ""
                raise NoReferenceError(f"no production model with a reference sample yet{detail}")
            rows_seen = self.window.added_total
            window = self.window.snapshot()
            self.metrics.window_size.set(len(window))
            if len(window) < self.min_window_size:
                raise WindowTooSmallError(
                    f"the window holds {len(window)} rows; a verdict needs at least "
                    f"{self.min_window_size}"
                )
            verdict = await self._in_worker(check_drift, reference.frame, window, self.config)
            self._rows_at_last_check = rows_seen
            self.last = verdict
            self._last_frames = (reference.frame, window)
            self.metrics.observe(verdict)
            log.info(
                "drift check",
                extra={
                    "drift": verdict.drift_detected,
                    "drifted_share": verdict.drifted_share,
                    "window_size": verdict.window_size,
                    "duration_s": round(verdict.duration_s, 3),
                    "reasons": list(verdict.reasons),
                },
            )
            job_id = await self._maybe_retrain(verdict, reference)
            return CheckOutcome(verdict, job_id)

    async def _maybe_retrain(self, verdict: DriftVerdict, reference: Reference) -> str | None:
        if not verdict.drift_detected or self.trigger is None:
            return None
        reason = (
            f"drift against {reference.version.name} v{reference.version.version}: "
            + "; ".join(verdict.reasons)
        )
        try:
            job_id = await self.trigger.maybe_queue(reason)
        except Exception:
            log.exception("retrain could not be queued")
            return None
        if job_id is not None:
            self.metrics.retrains.inc()
        return job_id

    async def report_html(self) -> str | None:
        """The Evidently HTML report of the last check (built once, off the loop), or None."""
        async with self._report_lock:
            last, frames = self.last, self._last_frames
            if last is None or frames is None:
                return None
            if self._report is not None and self._report[0] == last.checked_at:
                return self._report[1]
            html = await self._in_worker(render_report, frames[0], frames[1], self.config)
            self._report = (last.checked_at, html)
            return html

    async def _in_worker(self, func: Callable[..., T], *args: object) -> T:
        """Run ``func`` in the check executor; a dead worker is replaced for the next call."""
        executor = self._executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, func, *args)
        except BrokenExecutor:
            log.error("the check worker died; starting a new one")
            if self._executor is executor:
                executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._executor_factory()
            raise

    def warm_up(self) -> None:
        """Import Evidently in the worker now, not at the first check."""
        self._executor.submit(warm_up)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop the worker: wait up to ``timeout_s`` for a running check, then kill it.

        A shutdown must end within the pod's grace period even when the worker hangs (or
        died with the signal the service got: its group shares it).
        """
        executor = self._executor
        stopping = asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        try:
            await asyncio.wait_for(asyncio.shield(stopping), timeout_s)
        except TimeoutError:
            workers = list(getattr(executor, "_processes", None) or {})  # a process pool's pids
            log.warning("the check worker did not stop in %.0fs; killing it", timeout_s)
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    # -- background loops --------------------------------------------------------------------

    async def run_periodic_checks(self, interval_s: float, min_new_rows: int) -> None:
        """Check every ``interval_s`` when due; never dies on a failed check."""
        while True:
            await asyncio.sleep(interval_s)
            if not self.due(min_new_rows):
                continue
            try:
                await self.check()
            except (NoReferenceError, WindowTooSmallError):
                continue
            except Exception:
                log.exception("periodic drift check failed")

    async def run_reference_poll(self, interval_s: float) -> None:
        """Poll the production alias (model-events only make a change show sooner)."""
        while True:
            started = time.monotonic()
            try:
                await self.refresh_reference()
            except Exception as exc:
                log.warning("registry poll failed", extra={"error": str(exc)})
            await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))
