"""The MLflow model registry: register a version last, move aliases, the promotion rule.

A version is created only after every artifact is in its run, and aliases move only after the
version exists, so a job killed at any point leaves either nothing or a complete version.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING, MODEL_NAME

log = logging.getLogger(__name__)

#: Registered-model tag holding the versions that were production, oldest first ("1,3,4").
HISTORY_TAG = "production_history"
HISTORY_LENGTH = 50


class RegistryError(RuntimeError):
    """A registry operation that cannot be done (unknown version, nothing to roll back to)."""


@dataclass(frozen=True)
class Promotion:
    """The result of moving the ``production`` alias."""

    version: str
    previous: str | None


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
) -> ModelVersion:
    """Create a version of ``name`` from a logged model; call after every run artifact is logged."""
    try:
        client.create_registered_model(
            name, description="Handwritten digits, 8x8 features on 0..16"
        )
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


def set_alias(client: MlflowClient, alias: str, version: str, name: str = MODEL_NAME) -> None:
    """Point ``alias`` at ``version``."""
    client.set_registered_model_alias(name, alias, version)
    log.info("alias moved", extra={"model": name, "alias": alias, "version": version})


def alias_version(client: MlflowClient, alias: str, name: str = MODEL_NAME) -> ModelVersion | None:
    """The version ``alias`` points at, or ``None`` when the alias (or model) does not exist."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def should_promote(candidate: float, production: float | None, margin: float = 0.0) -> bool:
    """The promotion rule: no production yet, or ``candidate >= production + margin``."""
    return production is None or candidate >= production + margin


def _history(client: MlflowClient, name: str) -> list[str]:
    try:
        raw = client.get_registered_model(name).tags.get(HISTORY_TAG, "")
    except MlflowException as exc:
        raise RegistryError(f"no registered model {name}") from exc
    return [v for v in raw.split(",") if v]


def _move_production(
    client: MlflowClient, version: str, history: list[str], name: str
) -> Promotion:
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        raise RegistryError(f"{name} has no version {version}") from exc
    current = alias_version(client, ALIAS_PRODUCTION, name)
    previous = str(current.version) if current is not None else None
    set_alias(client, ALIAS_PRODUCTION, version, name)
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(history[-HISTORY_LENGTH:]))
    return Promotion(version=version, previous=previous)


def promote(client: MlflowClient, version: str, name: str = MODEL_NAME) -> Promotion:
    """Move ``production`` to ``version`` and append it to the production history.

    Raises:
        RegistryError: the model or the version does not exist.
    """
    version = str(version)
    history = _history(client, name)
    if not history or history[-1] != version:
        history.append(version)
    return _move_production(client, version, history, name)


def rollback(client: MlflowClient, version: str | None = None, name: str = MODEL_NAME) -> Promotion:
    """Move ``production`` back: to ``version`` when given, else to the one before it.

    Without a version, the current production version leaves the history, so rolling back
    twice goes two promotions back.

    Raises:
        RegistryError: there is no earlier production version to go back to.
    """
    if version is not None:
        return promote(client, version, name)
    history = _history(client, name)
    if len(history) < 2:
        raise RegistryError("no earlier production version recorded; name a version")
    history.pop()
    return _move_production(client, history[-1], history, name)


def staging_alias() -> str:
    """The alias every new candidate gets."""
    return ALIAS_STAGING


def download_model(model_uri: str, dst: Path) -> Path:
    """Download a registered/logged ONNX model and return the path of its ``model.onnx``."""
    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst)))
    candidates = sorted(folder.rglob("*.onnx"))
    if not candidates:
        raise RegistryError(f"{model_uri} holds no .onnx file")
    return candidates[0]
