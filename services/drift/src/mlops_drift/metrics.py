"""Prometheus metrics of the drift service (names fixed in docs/contracts.md).

Every per-model metric carries a ``model`` label; :meth:`DriftMetrics.for_model` hands a model's
monitor and consumer its own children, so they never spell the label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mlops_drift.detector import DriftVerdict
from mlops_drift.estimate import PerformanceEstimate


@dataclass(slots=True)
class ModelMetrics:
    """One model's series of the service's metrics."""

    name: str
    drifted_share: Gauge
    dataset_drift: Gauge
    window_size: Gauge
    last_check: Gauge
    checks: Counter
    retrains: Counter
    check_duration: Histogram
    entries: Counter
    bad_entries: Counter
    reference: Gauge
    estimated_accuracy: Gauge
    estimated_accuracy_drop: Gauge
    #: The version ``reference`` shows now (its series is removed when another replaces it).
    reference_version: str | None = None

    def observe(self, verdict: DriftVerdict) -> None:
        """Record a finished check."""
        self.checks.inc()
        self.drifted_share.set(verdict.drifted_share)
        self.dataset_drift.set(1 if verdict.drift_detected else 0)
        self.last_check.set(verdict.checked_at)
        self.check_duration.observe(verdict.duration_s)

    def observe_estimate(self, estimate: PerformanceEstimate | None) -> None:
        """Record a check's accuracy estimate (NaN: none could be made)."""
        drop = estimate.drop if estimate is not None else None
        self.estimated_accuracy.set(estimate.estimated_accuracy if estimate else math.nan)
        self.estimated_accuracy_drop.set(math.nan if drop is None else drop)

    def reset_verdict(self) -> None:
        """Clear the verdict gauges (the model they were about was replaced)."""
        self.drifted_share.set(0)
        self.dataset_drift.set(0)
        self.window_size.set(0)
        self.observe_estimate(None)

    def set_reference(self, version: str) -> None:
        """Point the reference info gauge of this model at ``version`` only."""
        if self.reference_version is not None and self.reference_version != version:
            self.reference.remove(self.name, self.reference_version)
        self.reference.labels(name=self.name, version=version).set(1)
        self.reference_version = version


class DriftMetrics:
    """The service's metrics, in their own registry (one per app, so tests stay isolated)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        model = ["model"]
        self.drifted_share = Gauge(
            "drift_drifted_feature_share",
            "Share of features drifted at the last check.",
            model,
            registry=r,
        )
        self.dataset_drift = Gauge(
            "drift_dataset_drift", "1 when the last check found drift, else 0.", model, registry=r
        )
        self.window_size = Gauge(
            "drift_window_size", "Rows in the sliding window now.", model, registry=r
        )
        self.last_check = Gauge(
            "drift_last_check_timestamp_seconds", "Unix time of the last check.", model, registry=r
        )
        self.checks = Counter("drift_checks_total", "Drift checks run.", model, registry=r)
        self.retrains = Counter(
            "drift_retrains_queued_total", "Retraining jobs queued on drift.", model, registry=r
        )
        self.check_duration = Histogram(
            "drift_check_duration_seconds",
            "Seconds one check took in its worker.",
            model,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self.entries = Counter(
            "drift_traffic_entries_total",
            "Traffic entries consumed from the stream.",
            model,
            registry=r,
        )
        self.bad_entries = Counter(
            "drift_traffic_malformed_total",
            "Traffic entries that could not be decoded.",
            model,
            registry=r,
        )
        self.estimated_accuracy = Gauge(
            "drift_estimated_accuracy",
            "Label-free accuracy estimate (CBPE) of the window at the last check (NaN: none).",
            model,
            registry=r,
        )
        self.estimated_accuracy_drop = Gauge(
            "drift_estimated_accuracy_drop",
            "Reference's CBPE minus the window's at the last check (NaN: none).",
            model,
            registry=r,
        )
        self.reference_version = Gauge(
            "drift_reference_info",
            "1 for the model version whose reference is loaded.",
            ["name", "version"],
            registry=r,
        )

    def for_model(self, name: str) -> ModelMetrics:
        """The series of model ``name`` (created at zero, so they show before the first check;
        the estimate's at NaN)."""
        series = ModelMetrics(
            name=name,
            drifted_share=self.drifted_share.labels(model=name),
            dataset_drift=self.dataset_drift.labels(model=name),
            window_size=self.window_size.labels(model=name),
            last_check=self.last_check.labels(model=name),
            checks=self.checks.labels(model=name),
            retrains=self.retrains.labels(model=name),
            check_duration=self.check_duration.labels(model=name),
            entries=self.entries.labels(model=name),
            bad_entries=self.bad_entries.labels(model=name),
            reference=self.reference_version,
            estimated_accuracy=self.estimated_accuracy.labels(model=name),
            estimated_accuracy_drop=self.estimated_accuracy_drop.labels(model=name),
        )
        series.observe_estimate(None)
        return series
