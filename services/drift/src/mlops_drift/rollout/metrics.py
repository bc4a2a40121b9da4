"""Prometheus metrics of the rollout controller, in the drift service's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class RolloutMetrics:
    """The controller's series, each with a ``model`` label."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rollbacks = Counter(
            "rollout_rollbacks_total",
            "Automatic rollbacks of a production version on probation.",
            ["model"],
            registry=registry,
        )
        self.decisions = Counter(
            "rollout_decisions_total",
            "Rollout decisions taken by the controller, by action.",
            ["model", "action"],
            registry=registry,
        )
        self.probation = Gauge(
            "rollout_probation_active",
            "1 while the model's production version is on probation.",
            ["model"],
            registry=registry,
        )
        self.accuracy = Gauge(
            "rollout_live_accuracy",
            "Accuracy on labelled live rows: role=production|candidate (shadowed pair), "
            "role=probation|replaced (a version on probation and the one it replaced).",
            ["model", "role"],
            registry=registry,
        )
        self.estimated = Gauge(
            "rollout_estimated_accuracy",
            "Estimated accuracy (CBPE) of a version on probation (role=probation) and of the one "
            "it replaced (role=replaced).",
            ["model", "role"],
            registry=registry,
        )
        self.agreement = Gauge(
            "rollout_shadow_agreement",
            "Share of shadowed rows where the candidate answers as production does.",
            ["model"],
            registry=registry,
        )
        self.skipped = Counter(
            "rollout_entries_malformed_total",
            "Traffic or shadow entries the controller could not decode.",
            ["model"],
            registry=registry,
        )
