"""The drift monitor: checks of the window against the reference, the verdict, the retrain.

Owned by the event loop. Everything slow runs elsewhere: MLflow calls in a thread, Evidently in
the check worker (a worker process by default), so ``/v1/drift/status`` and ``/metrics``
answer from memory while a check runs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from mlops_drift.detector import DriftConfig, DriftVerdict, check_drift
from mlops_drift.metrics import DriftMetrics
from mlops_drift.reference import Reference, RegistryReferenceSource
from mlops_drift.report import ReportCache
from mlops_drift.tracking import ReferenceTracker
from mlops_drift.trigger import RetrainTrigger
from mlops_drift.window import SlidingWindow
from mlops_drift.worker import CheckWorker

log = logging.getLogger(__name__)


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
    """Runs checks of the window against the production reference and acts on the verdict."""

    def __init__(
        self,
        *,
        window: SlidingWindow,
        source: RegistryReferenceSource,
        worker: CheckWorker,
        metrics: DriftMetrics,
        config: DriftConfig,
        min_window_size: int,
        trigger: RetrainTrigger | None = None,
    ) -> None:
        self.window = window
        self.metrics = metrics
        self.config = config
        self.min_window_size = min_window_size
        self.trigger = trigger
        self._worker = worker
        self.references = ReferenceTracker(source, metrics)
        self.report = ReportCache(worker, config)
        self.last: DriftVerdict | None = None
        self._check_lock = asyncio.Lock()
        self._rows_at_last_check = 0

    async def refresh_reference(self) -> None:
        """Follow production; when it moved, forget the window and the verdict about the old
        model (late traffic it answered is dropped by :meth:`ReferenceTracker.accept`)."""
        if await self.references.refresh():
            self.window.clear()
            self.last = None
            self.report.forget()
            self.metrics.reset_verdict()

    def due(self, min_new_rows: int) -> bool:
        """True when a periodic check has enough rows, enough of them new."""
        new_rows = self.window.added_total - self._rows_at_last_check
        return (
            self.references.current is not None
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
            reference = self.references.current
            if reference is None:
                error = self.references.error
                detail = f": {error}" if error else ""
                raise NoReferenceError(f"no production model with a reference sample yet{detail}")
            rows_seen = self.window.added_total
            window = self.window.snapshot()
            self.metrics.window_size.set(len(window))
            if len(window) < self.min_window_size:
                raise WindowTooSmallError(
                    f"the window holds {len(window)} rows; a verdict needs at least "
                    f"{self.min_window_size}"
                )
            verdict = await self._worker.run(check_drift, reference.frame, window, self.config)
            self._rows_at_last_check = rows_seen
            self.last = verdict
            self.report.checked(reference.frame, window)
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
