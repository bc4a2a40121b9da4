"""The drift monitor of one model: checks of its window against its reference, the verdict, the
retrain.

Owned by the event loop. Everything slow runs elsewhere: MLflow calls in a thread, Evidently in
the check worker (a worker process by default), so ``/v1/drift/status`` and ``/metrics``
answer from memory while a check runs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from mlops_drift.columns import MonitoredColumns
from mlops_drift.detector import DriftConfig, DriftVerdict, check_drift
from mlops_drift.metrics import ModelMetrics
from mlops_drift.reference import Reference, RegistryReferenceSource
from mlops_drift.report import ReportCache
from mlops_drift.tracking import ReferenceTracker
from mlops_drift.trigger import RetrainTrigger
from mlops_drift.window import SlidingWindow
from mlops_drift.worker import CheckWorker

log = logging.getLogger(__name__)


#: The note of a verdict whose drift queued no retrain because the spec forbids it.
NOT_TRAINABLE_NOTE = "not trainable: no retrain queued"


class NoReferenceError(RuntimeError):
    """No production version with a reference sample and a spec is known yet."""

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
    """Runs checks of one model's window against its production reference and acts on the
    verdict: on drift, queues a retrain of the model when its spec says it is trainable."""

    def __init__(
        self,
        *,
        window: SlidingWindow,
        source: RegistryReferenceSource,
        worker: CheckWorker,
        metrics: ModelMetrics,
        config: DriftConfig,
        min_window_size: int,
        trigger: RetrainTrigger | None = None,
    ) -> None:
        self.name = source.model_name
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

    def summary(self) -> dict[str, Any]:
        """``name``, the reference's ``version`` (None before one loaded), the monitored
        ``columns``, the window's size and the ``last_check`` verdict (None before one)."""
        reference = self.references.current
        return {
            "name": self.name,
            "version": reference.version.version if reference is not None else None,
            "columns": reference.columns.names if reference is not None else [],
            "window_size": len(self.window),
            "last_check": self.last.status() if self.last is not None else None,
        }

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
                raise NoReferenceError(
                    f"no production version of {self.name} with a reference sample and a spec "
                    f"yet{detail}"
                )
            columns = reference.columns
            rows_seen = self.window.added_total
            window = self.window.snapshot(columns)
            self.metrics.window_size.set(len(window))
            if len(window) < self.min_window_size:
                raise WindowTooSmallError(
                    f"the window holds {len(window)} rows; a verdict needs at least "
                    f"{self.min_window_size}"
                )
            verdict = await self._worker.run(_check, reference.frame, window, self.config, columns)
            verdict = replace(verdict, model=self.name)
            self._rows_at_last_check = rows_seen
            if verdict.drift_detected and not reference.spec.trainable:
                verdict = replace(verdict, notes=(*verdict.notes, NOT_TRAINABLE_NOTE))
            self.last = verdict
            self.report.checked(reference.frame, window, columns)
            self.metrics.observe(verdict)
            log.info(
                "drift check",
                extra={
                    "model": self.name,
                    "drift": verdict.drift_detected,
                    "drifted_share": verdict.drifted_share,
                    "window_size": verdict.window_size,
                    "duration_s": round(verdict.duration_s, 3),
                    "reasons": list(verdict.reasons),
                },
            )
            return CheckOutcome(verdict, await self._maybe_retrain(verdict, reference))

    async def _maybe_retrain(self, verdict: DriftVerdict, reference: Reference) -> str | None:
        if not verdict.drift_detected or self.trigger is None:
            return None
        if not reference.spec.trainable:
            log.info(NOT_TRAINABLE_NOTE, extra={"model": self.name})
            return None
        reason = (
            f"drift against {reference.version.name} v{reference.version.version}: "
            + "; ".join(verdict.reasons)
        )
        try:
            job_id = await self.trigger.maybe_queue(self.name, reason)
        except Exception:
            log.exception("retrain could not be queued", extra={"model": self.name})
            return None
        if job_id is not None:
            self.metrics.retrains.inc()
        return job_id


def _check(
    reference: pd.DataFrame, window: pd.DataFrame, config: DriftConfig, columns: MonitoredColumns
) -> DriftVerdict:
    """:func:`check_drift` with positional arguments only (the worker passes them so)."""
    return check_drift(reference, window, config, columns=columns)
