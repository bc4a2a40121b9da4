"""The reference sample: the CSV registered with the production model's run.

Blocking (MLflow client, file I/O): the service calls these functions through a worker thread.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_common.registry import ALIAS_PRODUCTION, REFERENCE_ARTIFACT
from mlops_drift.detector import REQUIRED_COLUMNS


class ReferenceError(RuntimeError):
    """The production version has no usable reference sample."""

    code = "reference_unavailable"


@dataclass(frozen=True, slots=True)
class ProductionVersion:
    """Which registered version production points at, and the run that produced it."""

    name: str
    version: str
    run_id: str


@dataclass(frozen=True, slots=True)
class Reference:
    """A loaded reference sample and the model version it belongs to."""

    version: ProductionVersion
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)


def read_reference_csv(path: Path) -> pd.DataFrame:
    """Read and check a reference CSV (64 features, ``prediction``, ``confidence``, ``label``).

    Raises:
        ReferenceError: unreadable, missing columns, non-numeric or empty.
    """
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ReferenceError(f"cannot read the reference CSV {path.name}: {exc}") from exc
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise ReferenceError(
            f"the reference CSV lacks {len(missing)} column(s), e.g. {', '.join(missing[:3])}"
        )
    if len(frame) < 2:
        raise ReferenceError(f"the reference CSV has {len(frame)} row(s); at least 2 are needed")
    try:
        checked = frame[list(REQUIRED_COLUMNS)].astype("float64")
    except (TypeError, ValueError) as exc:
        raise ReferenceError(f"the reference CSV holds non-numeric values: {exc}") from exc
    if checked.isna().any().any():
        raise ReferenceError("the reference CSV holds empty or NaN cells")
    return frame


class RegistryReferenceSource:
    """Finds the production version of a registered model and loads its reference sample."""

    def __init__(self, tracking_uri: str, model_name: str, alias: str = ALIAS_PRODUCTION) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.alias = alias

    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def production_version(self) -> ProductionVersion | None:
        """The version the alias points at, or None when there is none (yet)."""
        from mlflow.exceptions import MlflowException

        try:
            found = self._client().get_model_version_by_alias(self.model_name, self.alias)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        return ProductionVersion(self.model_name, str(found.version), str(found.run_id))

    def load(self, version: ProductionVersion) -> Reference:
        """Download and check the reference CSV of ``version``'s run.

        Raises:
            ReferenceError: the run has no such artifact or it is malformed.
        """
        from mlflow.artifacts import download_artifacts
        from mlflow.exceptions import MlflowException

        with tempfile.TemporaryDirectory(prefix="drift-reference-") as folder:
            try:
                local = download_artifacts(
                    run_id=version.run_id,
                    artifact_path=REFERENCE_ARTIFACT,
                    dst_path=folder,
                    tracking_uri=self.tracking_uri,
                )
            except (MlflowException, OSError) as exc:
                raise ReferenceError(
                    f"version {version.version} of {version.name} has no {REFERENCE_ARTIFACT} "
                    f"in run {version.run_id}: {exc}"
                ) from exc
            frame = read_reference_csv(Path(local))
        return Reference(version, frame)
