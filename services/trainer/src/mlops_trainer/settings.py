"""Settings of the trainer (env prefix ``TRAINER_``), read when a command or job starts."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mlops_common.settings import ServiceSettings, service_config


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

    @property
    def artifact_location(self) -> Path:
        """The artifact folder new experiments get on a local store."""
        return (self.artifact_root or self.state_dir / "mlflow" / "artifacts").resolve()

    @property
    def output_dir(self) -> Path:
        """Folder for local outputs of a run (exported models, profiles, Lightning logs)."""
        return (self.state_dir / "trainer").resolve()
