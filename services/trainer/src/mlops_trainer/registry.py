"""The MLflow model registry: the experiment, a version registered last, downloads.

A version is created only after every artifact is in its run, and aliases move (through
:mod:`mlops_common.promotion`) only after the version exists, so a job killed at any point leaves
either nothing or a complete version.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlops_common.model_spec import MODEL_SPEC_ARTIFACT, ModelSpec, load_spec
from mlops_common.registry import MODEL_NAME

log = logging.getLogger(__name__)


class RegistryError(RuntimeError):
    """A registry operation that cannot be done (a version that fails to register, no model)."""


def make_client(tracking_uri: str) -> MlflowClient:
    """A client whose tracking and registry are both ``tracking_uri``."""
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def is_local_store(tracking_uri: str) -> bool:
    """Whether the store keeps artifacts where this process chooses (sqlite/file, not a server)."""
    return tracking_uri.startswith(("sqlite:", "file:", "/", ".")) or "://" not in tracking_uri


def ensure_experiment(client: MlflowClient, name: str, artifact_location: Path | None) -> str:
    """The id of experiment ``name``, created with ``artifact_location`` when it is new."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    location = None
    if artifact_location is not None:
        artifact_location.mkdir(parents=True, exist_ok=True)
        location = artifact_location.as_uri()
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except MlflowException:  # created meanwhile by another process
        existing = client.get_experiment_by_name(name)
        if existing is None:
            raise
        return str(existing.experiment_id)


def _wait_ready(client: MlflowClient, version: ModelVersion, timeout: float = 60.0) -> ModelVersion:
    deadline = time.monotonic() + timeout
    while version.status == "PENDING_REGISTRATION":
        if time.monotonic() > deadline:
            raise RegistryError(f"version {version.version} still pending after {timeout:.0f}s")
        time.sleep(0.2)
        version = client.get_model_version(version.name, version.version)
    if version.status != "READY":
        raise RegistryError(
            f"version {version.version} failed to register: {version.status_message}"
        )
    return version


def register_version(
    client: MlflowClient,
    *,
    model_uri: str,
    run_id: str,
    tags: dict[str, str] | None = None,
    name: str = MODEL_NAME,
    description: str = "Handwritten digits, 8x8 features on 0..16",
) -> ModelVersion:
    """Create a version of ``name`` from a logged model; call after every run artifact is logged.

    ``description`` is the registered model's, set when this creates the model.
    """
    try:
        client.create_registered_model(name, description=description)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    version = client.create_model_version(
        name, source=model_uri, run_id=run_id, tags=tags or {}, model_id=model_id
    )
    version = _wait_ready(client, version)
    log.info(
        "registered model version",
        extra={"model": name, "version": version.version, "run_id": run_id},
    )
    return version


def versions_newest_first(client: MlflowClient, name: str) -> list[ModelVersion]:
    """Every registered version of ``name``, newest first (none for an unknown model)."""
    found = client.search_model_versions(f"name='{name}'")
    return sorted(found, key=lambda version: int(version.version), reverse=True)


def version_spec(client: MlflowClient, version: ModelVersion) -> ModelSpec | None:
    """The ``model-spec.json`` of ``version``'s run, or None when it has none (first wave).

    Raises:
        ModelSpecError: the run holds a spec that does not validate.
    """
    run_id = version.run_id
    if not run_id or MODEL_SPEC_ARTIFACT not in {a.path for a in client.list_artifacts(run_id)}:
        return None
    with tempfile.TemporaryDirectory(prefix="mlops-spec-") as tmp:
        return load_spec(Path(client.download_artifacts(run_id, MODEL_SPEC_ARTIFACT, tmp)))


def download_model(model_uri: str, dst: Path) -> Path:
    """Download a registered/logged ONNX model and return the path of its ``model.onnx``."""
    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst)))
    candidates = sorted(folder.rglob("*.onnx"))
    if not candidates:
        raise RegistryError(f"{model_uri} holds no .onnx file")
    return candidates[0]
