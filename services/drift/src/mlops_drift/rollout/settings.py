"""Settings of the rollout controller (env prefix ``DRIFT_ROLLOUT_``)."""

from __future__ import annotations

from pydantic import Field

from mlops_common.promotion import GateRule
from mlops_common.settings import ServiceSettings, service_config
from mlops_drift.rollout.probation import ProbationLimits


class RolloutSettings(ServiceSettings):
    """How the drift service watches each model's rollout."""

    model_config = service_config("DRIFT_ROLLOUT_")

    enabled: bool = Field(default=True, description="Run the rollout controller.")
    interval_s: float = Field(default=5.0, gt=0, description="Seconds between two looks.")

    # Probation and rollback
    probation_s: float = Field(
        default=1800.0, gt=0, description="How long a new production version is on probation."
    )
    rollback: bool = Field(
        default=True, description="Roll a regressing version back (off: only report it)."
    )
    min_labelled: int = Field(
        default=30, ge=1, description="Labelled rows each version needs before accuracies count."
    )
    max_accuracy_drop: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Live accuracy drop (vs the replaced version) that rolls back.",
    )
    min_rows: int = Field(
        default=100, ge=1, description="Rows each version needs before estimates and latency count."
    )
    max_estimate_drop: float = Field(
        default=0.05, ge=0, le=1, description="Estimated-accuracy (CBPE) drop that rolls back."
    )
    max_p99_ratio: float = Field(
        default=3.0, gt=1, description="p99 latency ratio (new / replaced) that rolls back."
    )
    max_error_increase: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Rise of the share of failed requests (vs the replaced version) that rolls "
        "back.",
    )
    baseline_rows: int = Field(
        default=5000, ge=1, description="Rows of the replaced version read as its baseline."
    )

    # Staged candidates
    auto_promote: bool = Field(
        default=True, description="Promote or reject a shadowed candidate on live evidence."
    )
    min_shadowed: int = Field(default=200, ge=1, description="Shadowed rows the gate needs.")
    min_shadow_labelled: int = Field(
        default=50, ge=1, description="Labelled shadowed rows the gate needs."
    )
    margin: float = Field(default=0.0, description="Offline margin of the promotion gate.")
    live_margin: float = Field(default=0.0, description="Live margin of the promotion gate.")
    shadow_rows: int = Field(
        default=20000, ge=1, description="Most recent shadow records read per look."
    )

    def limits(self) -> ProbationLimits:
        """The probation thresholds."""
        return ProbationLimits(
            min_labelled=self.min_labelled,
            max_accuracy_drop=self.max_accuracy_drop,
            min_rows=self.min_rows,
            max_estimate_drop=self.max_estimate_drop,
            max_p99_ratio=self.max_p99_ratio,
            max_error_increase=self.max_error_increase,
        )

    def gate(self) -> GateRule:
        """The promotion gate, waiting for live evidence (the controller acts on nothing else)."""
        return GateRule(
            margin=self.margin,
            live_margin=self.live_margin,
            min_shadowed=self.min_shadowed,
            min_labelled=self.min_shadow_labelled,
            require_live=True,
        )
