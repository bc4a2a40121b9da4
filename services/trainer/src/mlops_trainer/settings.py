"""Settings of the trainer (env prefix ``TRAINER_``), read when a command or job starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from mlops_common.settings import LOOPBACK, ServiceSettings, service_config


def default_conf_dir() -> Path:
    """The Hydra config folder shipped next to the package (``services/trainer/conf``)."""
    return Path(__file__).resolve().parents[2] / "conf"


class TrainerSettings(ServiceSettings):
    """Where the trainer keeps its configs, MLflow artifacts and outputs."""

    model_config = service_config("TRAINER_")

    conf_dir: Path = Field(
        default_factory=default_conf_dir,
        description="Folder of the Hydra configs (groups data, model, optimizer, trainer).",
    )
    experiment_name: str = Field(
        default="digits-classifier", description="MLflow experiment that holds the runs."
    )
    artifact_root: Path | None = Field(
        default=None,
        description=(
            "Artifact folder for a new experiment when the store is local (sqlite/file); "
            "default <state_dir>/mlflow/artifacts. Ignored for a remote tracking server."
        ),
    )

    # The retraining worker (``celery -A mlops_trainer.worker worker``)
    retrain_overrides: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Hydra overrides every retraining job starts from, before the job's own: "
            "space-separated (`trainer=fast model=tiny`) or a JSON list."
        ),
    )
    worker_metrics_port: int = Field(
        default=8091, ge=0, le=65535, description="Prometheus port of the retraining worker."
    )
    worker_metrics_host: str = Field(
        default=LOOPBACK,
        description="Address the worker's metrics server binds: loopback unless opened (the "
        "image sets 0.0.0.0).",
    )
    retrain_soft_time_limit_s: float = Field(
        default=1800.0, gt=0, description="A job past this gets SoftTimeLimitExceeded (fails)."
    )
    retrain_time_limit_s: float = Field(
        default=1900.0, gt=0, description="A job past this is killed (prefork pool)."
    )
    retrain_lock_ttl_s: float = Field(
        default=60.0,
        gt=1,
        description="TTL of the single-flight lock, renewed by a running job every third of it.",
    )
    broker_visibility_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Seconds before a job whose worker died is delivered again (Redis broker); "
            "default: the hard time limit plus 10 minutes, so a live job is never redelivered."
        ),
    )
    feedback_max_rows: int = Field(
        default=20_000, ge=0, description="Most feedback-labelled traffic rows a job uses."
    )
    feedback_test_fraction: float = Field(
        default=0.3,
        ge=0,
        lt=1,
        description="Share of feedback rows held out for the test set (chosen by id hash).",
    )
    feedback_val_fraction: float = Field(
        default=0.1, ge=0, lt=1, description="Share of feedback rows for validation."
    )
    feedback_repeat: int = Field(
        default=3,
        ge=1,
        description="Times each training feedback row is repeated (they are few and new).",
    )
    feedback_stream_scan: int = Field(
        default=100_000,
        ge=0,
        description="Traffic entries scanned for labelled ids whose prediction hash expired.",
    )

    @field_validator("retrain_overrides", mode="before")
    @classmethod
    def _split_overrides(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return text.split()
        return value

    @model_validator(mode="after")
    def _check_limits(self) -> TrainerSettings:
        if self.retrain_time_limit_s <= self.retrain_soft_time_limit_s:
            raise ValueError(
                "TRAINER_RETRAIN_TIME_LIMIT_S must exceed TRAINER_RETRAIN_SOFT_TIME_LIMIT_S"
            )
        if self.feedback_test_fraction + self.feedback_val_fraction >= 1:
            raise ValueError("feedback test + val fractions must leave rows for training")
        return self

    @property
    def visibility_timeout_s(self) -> float:
        """Seconds the broker waits before redelivering an unacknowledged job."""
        return self.broker_visibility_timeout_s or self.retrain_time_limit_s + 600.0

    @property
    def artifact_location(self) -> Path:
        """The artifact folder new experiments get on a local store."""
        return (self.artifact_root or self.state_dir / "mlflow" / "artifacts").resolve()

    @property
    def output_dir(self) -> Path:
        """Folder for local outputs of a run (exported models, profiles, Lightning logs)."""
        return (self.state_dir / "trainer").resolve()
