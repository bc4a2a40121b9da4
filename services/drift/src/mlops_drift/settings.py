"""Settings of the drift service (env prefix ``DRIFT_``; shared names without a prefix)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from mlops_common.api_keys import split_keys
from mlops_common.registry import MODEL_NAME
from mlops_common.settings import LOOPBACK, ServiceSettings, service_config
from mlops_drift.detector import DriftConfig
from mlops_drift.estimate import RetrainPolicy, RetrainRule
from mlops_drift.rollout.settings import RolloutSettings


class DriftSettings(ServiceSettings):
    """Everything the drift service reads from its environment."""

    model_config = service_config("DRIFT_")

    host: str = Field(
        default=LOOPBACK,
        description="Address the HTTP server binds: loopback unless opened (the image sets "
        "0.0.0.0).",
    )
    port: int = Field(default=8090, ge=0, le=65535, description="HTTP port (API and /metrics).")
    model_name: str = Field(
        default=MODEL_NAME,
        description="The one model watched when `DRIFT_MODELS` is unset.",
    )
    models: str = Field(
        default="",
        description="The models watched: comma-separated registered model names (each one's "
        "`traffic:<name>` stream against its production version's reference and spec); the "
        "first is the API's default. `name=uri` entries (an `INFERENCE_MODELS` list) count by "
        "their name. Unset: `DRIFT_MODEL_NAME` alone.",
    )

    admin_api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Keys accepted in X-API-Key by `POST /v1/drift/check` (comma-separated; "
        "the gateway sends its GATEWAY_DRIFT_API_KEY). None configured: every check on "
        "request is refused (403); the periodic checks run regardless.",
    )

    # The window of traffic
    window_size: int = Field(default=1000, ge=10, description="Most recent rows kept.")
    window_max_age_s: float = Field(
        default=3600.0, gt=0, description="Rows older than this leave the window."
    )
    min_window_size: int = Field(
        default=200, ge=2, description="Fewest rows a check needs to give a verdict."
    )

    # When checks run
    check_interval_s: float = Field(
        default=60.0, gt=0, description="Seconds between periodic checks."
    )
    min_new_rows: int = Field(
        default=50, ge=0, description="A periodic check is skipped until this many rows arrived."
    )
    check_executor: Literal["process", "thread"] = Field(
        default="process", description="Where checks run: a worker process or a thread."
    )

    # Consuming the traffic stream
    consumer_name: str = Field(default="drift-1", description="Name in the consumer group.")
    read_count: int = Field(default=500, ge=1, description="Entries read per XREADGROUP.")
    read_block_ms: int = Field(default=1000, ge=1, description="XREADGROUP block time.")
    start_from: Literal["latest", "earliest"] = Field(
        default="latest", description="Where a newly created consumer group starts."
    )

    # Reference
    reference_poll_s: float = Field(
        default=30.0, gt=0, description="Seconds between polls of the production alias."
    )

    # Retraining
    retrain_cooldown_s: float = Field(
        default=3600.0, gt=0, description="At most one retrain is queued per this many seconds."
    )
    retrain_enabled: bool = Field(default=True, description="Queue a retrain on drift.")
    retrain_policy: RetrainPolicy = Field(
        default=RetrainPolicy.HARMFUL_DRIFT,
        description="What queues a retrain: `drift` (the drift verdict), `estimate` (an "
        "estimated accuracy drop ≥ `DRIFT_ESTIMATE_DROP`) or `harmful_drift` (that drop, or "
        "drift with a drop ≥ `DRIFT_ESTIMATE_MIN_DROP_WITH_DRIFT`); see mlops_drift.estimate.",
    )
    estimate_drop: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Drop of the estimated accuracy (CBPE, reference − window) that queues a "
        "retrain under the `estimate` and `harmful_drift` policies.",
    )
    estimate_min_drop_with_drift: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Under `harmful_drift`: the smallest estimated drop that makes drift "
        "worth a retrain.",
    )

    # Rollout: probation, automatic rollback, the live-evidence gate (env DRIFT_ROLLOUT_*)
    rollout: RolloutSettings = Field(
        default_factory=RolloutSettings,
        description="The rollout controller's settings (mlops_drift.rollout.settings).",
    )

    # Verdict thresholds (see mlops_drift.detector)
    feature_method: str = Field(default="ks", description="Evidently test per feature.")
    feature_threshold: float = Field(
        default=0.001, gt=0, lt=1, description="Per-feature p-value threshold."
    )
    feature_share: float = Field(
        default=0.05, gt=0, le=1, description="Share of drifted features that is drift."
    )
    label_threshold: float = Field(
        default=0.005, gt=0, lt=1, description="p-value threshold of the predicted-label test."
    )
    confidence_threshold: float = Field(
        default=0.005, gt=0, lt=1, description="p-value threshold of the confidence test."
    )
    min_confidence_shift: float = Field(
        default=0.02, ge=0, le=1, description="Smallest change of mean confidence that counts."
    )

    @field_validator("admin_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        return split_keys(value)

    @field_validator("models")
    @classmethod
    def _models_parse(cls, value: str) -> str:
        if value.strip():
            parse_models(value)  # raises ValueError naming DRIFT_MODELS and the entry
        return value.strip()

    def monitored_models(self) -> tuple[str, ...]:
        """The names of the models watched, the default first."""
        return parse_models(self.models) if self.models else (self.model_name,)

    @model_validator(mode="after")
    def _window_holds_minimum(self) -> DriftSettings:
        if self.min_window_size > self.window_size:
            raise ValueError(
                f"min_window_size ({self.min_window_size}) exceeds window_size "
                f"({self.window_size}): no check could ever run"
            )
        return self

    def retrain_rule(self) -> RetrainRule:
        """The retrain policy and its thresholds as the monitor takes them."""
        return RetrainRule(
            self.retrain_policy, self.estimate_drop, self.estimate_min_drop_with_drift
        )

    def detector_config(self) -> DriftConfig:
        """The verdict's thresholds as the detector takes them."""
        return DriftConfig(
            feature_method=self.feature_method,
            feature_threshold=self.feature_threshold,
            feature_share=self.feature_share,
            label_threshold=self.label_threshold,
            confidence_threshold=self.confidence_threshold,
            min_confidence_shift=self.min_confidence_shift,
        )


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def parse_models(text: str) -> tuple[str, ...]:
    """The names of a ``DRIFT_MODELS`` value: ``name`` or ``name=uri`` entries, comma-separated.

    Raises:
        ValueError: an empty or malformed name, or a name given twice (naming the entry).
    """
    names: list[str] = []
    for position, entry in enumerate((part.strip() for part in text.split(",")), start=1):
        name = entry.partition("=")[0].strip()
        if not _NAME.match(name):
            raise ValueError(
                f"DRIFT_MODELS entry {position} ({entry!r}): a model name is 1-100 letters, "
                "digits, '.', '_' or '-', starting with a letter or digit"
            )
        if name in names:
            raise ValueError(f"DRIFT_MODELS names model {name!r} more than once")
        names.append(name)
    return tuple(names)
