"""The drift monitor of one model: checks of its window against its reference, the verdict, the
accuracy estimate (:mod:`mlops_drift.estimate`), the retrain.

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
from mlops_drift.estimate import (
    NO_ESTIMATE,
    PerformanceEstimate,
    RetrainDecision,
    RetrainRule,
    decide_retrain,
    estimate_performance,
)
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
    """A verdict, the accuracy estimate of the same window and the retrain it queued, if any."""

    verdict: DriftVerdict
    retrain_job_id: str | None
    estimate: PerformanceEstimate | None = None

    def status(self) -> dict[str, Any]:
        """The verdict's public JSON with the estimate's fields."""
        return {**self.verdict.status(), **public_estimate(self.estimate)}


def public_estimate(estimate: PerformanceEstimate | None) -> dict[str, Any]:
    """The estimate's status fields (nulls when none was made)."""
    return estimate.public() if estimate is not None else dict(NO_ESTIMATE)


class DriftMonitor:
    """Runs checks of one model's window against its production reference and acts on the
    verdict and the accuracy estimate: when ``rule`` says so, queues a retrain of the model if
    its spec says it is trainable."""

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
        rule: RetrainRule | None = None,
    ) -> None:
        self.name = source.model_name
        self.window = window
        self.metrics = metrics
        self.config = config
        self.min_window_size = min_window_size
        self.trigger = trigger
        self.rule = rule or RetrainRule()
        self._worker = worker
        self.references = ReferenceTracker(source, metrics)
        self.report = ReportCache(worker, config)
        self.last: DriftVerdict | None = None
        self.last_estimate: PerformanceEstimate | None = None
        self._check_lock = asyncio.Lock()
        self._rows_at_last_check = 0

    async def refresh_reference(self) -> None:
        """Follow production; when it moved, forget the window and the verdict about the old
        model (late traffic it answered is dropped by :meth:`ReferenceTracker.accept`)."""
        if await self.references.refresh():
            self.window.clear()
            self.last = self.last_estimate = None
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
            "last_check": self.status() if self.last is not None else None,
        }

    def status(self) -> dict[str, Any]:
        """The last verdict's public JSON with its accuracy estimate (call after a check)."""
        assert self.last is not None  # nosec B101: callers check self.last first; narrows the type for mypy
        return {**self.last.status(), **public_estimate(self.last_estimate)}

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
            estimate = _estimate(reference, window)
            decision = decide_retrain(self.rule, verdict.drift_detected, verdict.reasons, estimate)
            notes = _notes(verdict, decision, trainable=reference.spec.trainable)
            verdict = replace(verdict, notes=(*verdict.notes, *notes))
            self.last, self.last_estimate = verdict, estimate
            self.report.checked(reference.frame, window, columns)
            self.metrics.observe(verdict)
            self.metrics.observe_estimate(estimate)
            log.info(
                "drift check",
                extra={
                    "model": self.name,
                    "drift": verdict.drift_detected,
                    "drifted_share": verdict.drifted_share,
                    "window_size": verdict.window_size,
                    "duration_s": round(verdict.duration_s, 3),
                    "reasons": list(verdict.reasons),
                    "estimated_accuracy_drop": estimate.drop if estimate else None,
                },
            )
            job_id = await self._maybe_retrain(decision.reason, reference)
            return CheckOutcome(verdict, job_id, estimate)

    async def _maybe_retrain(self, why: str | None, reference: Reference) -> str | None:
        if why is None or self.trigger is None:
            return None
        if not reference.spec.trainable:
            log.info(NOT_TRAINABLE_NOTE, extra={"model": self.name})
            return None
        reason = f"{reference.version.name} v{reference.version.version}: {why}"
        try:
            job_id = await self.trigger.maybe_queue(self.name, reason)
        except Exception:
            log.exception("retrain could not be queued", extra={"model": self.name})
            return None
        if job_id is not None:
            self.metrics.retrains.inc()
        return job_id


def _notes(verdict: DriftVerdict, decision: RetrainDecision, *, trainable: bool) -> list[str]:
    """What the verdict's reasons add about the retrain: a model that is not trainable is never
    retrained whatever the policy says (one note on drift); else the policy's note, if any."""
    if not trainable:
        acts = verdict.drift_detected or decision.reason is not None
        return [NOT_TRAINABLE_NOTE] if acts else []
    return [decision.note] if decision.note else []


def _estimate(reference: Reference, window: pd.DataFrame) -> PerformanceEstimate | None:
    """CBPE of the window and of the reference rows (None: the window logs no confidence; no
    baseline when the reference holds none). Cheap (a mean), so it runs on the loop."""
    column = reference.columns.confidence
    if column is None or column not in window.columns or window.empty:
        return None
    baseline = reference.frame[column] if column in reference.frame.columns else None
    return estimate_performance(window[column], baseline, reference.calibration)


def _check(
    reference: pd.DataFrame, window: pd.DataFrame, config: DriftConfig, columns: MonitoredColumns
) -> DriftVerdict:
    """:func:`check_drift` with positional arguments only (the worker passes them so)."""
    return check_drift(reference, window, config, columns=columns)
