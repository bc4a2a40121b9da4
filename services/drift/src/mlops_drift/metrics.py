"""Prometheus metrics of the drift service (names fixed in docs/contracts.md)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mlops_drift.detector import DriftVerdict


class DriftMetrics:
    """The service's metrics, in their own registry (one per app, so tests stay isolated)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.drifted_share = Gauge(
            "drift_drifted_feature_share",
            "Share of features drifted at the last check.",
            registry=r,
        )
        self.dataset_drift = Gauge(
            "drift_dataset_drift", "1 when the last check found drift, else 0.", registry=r
        )
        self.window_size = Gauge("drift_window_size", "Rows in the sliding window now.", registry=r)
        self.last_check = Gauge(
            "drift_last_check_timestamp_seconds", "Unix time of the last check.", registry=r
        )
        self.checks = Counter("drift_checks_total", "Drift checks run.", registry=r)
        self.retrains = Counter(
            "drift_retrains_queued_total", "Retraining jobs queued on drift.", registry=r
        )
        self.check_duration = Histogram(
            "drift_check_duration_seconds",
            "Seconds one check took in its worker.",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self.entries = Counter(
            "drift_traffic_entries_total", "Traffic entries consumed from the stream.", registry=r
        )
        self.bad_entries = Counter(
            "drift_traffic_malformed_total",
            "Traffic entries that could not be decoded.",
            registry=r,
        )
        self.reference_version = Gauge(
            "drift_reference_info",
            "1 for the model version whose reference is loaded.",
            ["name", "version"],
            registry=r,
        )

    def observe(self, verdict: DriftVerdict) -> None:
        """Record a finished check."""
        self.checks.inc()
        self.drifted_share.set(verdict.drifted_share)
        self.dataset_drift.set(1 if verdict.drift_detected else 0)
        self.last_check.set(verdict.checked_at)
        self.check_duration.observe(verdict.duration_s)

    def reset_verdict(self) -> None:
        """Clear the verdict gauges (the model they were about was replaced)."""
        self.drifted_share.set(0)
        self.dataset_drift.set(0)
        self.window_size.set(0)

    def set_reference(self, name: str, version: str) -> None:
        """Point the reference info gauge at ``name``/``version`` only."""
        self.reference_version.clear()
        self.reference_version.labels(name=name, version=version).set(1)
