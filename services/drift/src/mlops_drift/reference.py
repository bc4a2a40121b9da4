"""The reference of a model: the production version's reference CSV and spec, loaded together.

Each registered version's run holds ``reference/features.csv`` (the sample drift compares traffic
with), ``model-spec.json`` (which columns are monitored, whether it is trainable) and, when the
trainer made it, ``calibration.json`` (confidence → P(correct), for the accuracy estimate of
:mod:`mlops_drift.estimate`; an imported model has none, and a malformed one is logged and
ignored: the estimate then uses raw confidences). The first two are
needed: a version missing either, or holding a malformed one, has no usable reference. The one
exception is a first-wave version of the built-in digits model, registered before specs existed:
it gets the digits spec (:func:`mlops_common.digits_spec.digits_spec`), as the gateway and the
trainer give it.

Blocking (MLflow client, file I/O): the service calls these functions through a worker thread.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from mlops_common.calibration import CALIBRATION_ARTIFACT, ConfidenceCalibration
from mlops_common.digits_spec import digits_spec
from mlops_common.model_spec import MODEL_SPEC_ARTIFACT, ModelSpec, ModelSpecError, load_spec
from mlops_common.registry import ALIAS_PRODUCTION, MODEL_NAME, REFERENCE_ARTIFACT
from mlops_drift.columns import MonitoredColumns

log = logging.getLogger(__name__)


class ReferenceError(RuntimeError):
    """The production version has no usable reference sample or spec."""

    code = "reference_unavailable"


@dataclass(frozen=True, slots=True)
class ProductionVersion:
    """Which registered version production points at, and the run that produced it."""

    name: str
    version: str
    run_id: str


@dataclass(frozen=True, slots=True)
class Reference:
    """A loaded reference sample, the spec and the model version they belong to, and the
    version's confidence calibration (None: it has none)."""

    version: ProductionVersion
    frame: pd.DataFrame
    spec: ModelSpec
    calibration: ConfidenceCalibration | None = None

    @property
    def columns(self) -> MonitoredColumns:
        """The columns the spec monitors."""
        return MonitoredColumns.from_spec(self.spec)

    def __len__(self) -> int:
        return len(self.frame)


def read_reference_csv(path: Path, columns: MonitoredColumns | None = None) -> pd.DataFrame:
    """Read and check a reference CSV: the feature ``columns`` (by default every column but
    ``label``, ``prediction`` and ``confidence``), numeric and complete; ``prediction`` and
    ``confidence`` when present (a check skips the test of one that is not).

    Raises:
        ReferenceError: unreadable, missing feature columns, non-numeric or empty.
    """
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ReferenceError(f"cannot read the reference CSV {path.name}: {exc}") from exc
    wanted = columns or MonitoredColumns.infer(frame)
    missing_features = [column for column in wanted.features if column not in frame.columns]
    if missing_features:
        raise ReferenceError(
            f"the reference CSV lacks {len(missing_features)} monitored column(s), "
            f"e.g. {', '.join(missing_features[:3])}"
        )
    if len(frame) < 2:
        raise ReferenceError(f"the reference CSV has {len(frame)} row(s); at least 2 are needed")
    present = wanted.present(frame).names
    try:
        checked = frame[present].astype("float64")
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
        """Download and check the spec and the reference CSV of ``version``'s run.

        Raises:
            ReferenceError: the run lacks either artifact, or one is malformed.
        """
        with tempfile.TemporaryDirectory(prefix="drift-reference-") as folder:
            names = self._artifacts(version)
            spec = self._spec(version, names, folder)
            columns = MonitoredColumns.from_spec(spec)
            if not columns.names:
                raise ReferenceError(
                    f"the spec of version {version.version} of {version.name} monitors no column"
                )
            frame = read_reference_csv(self._download(version, REFERENCE_ARTIFACT, folder), columns)
            calibration = self._calibration(version, names, folder)
        return Reference(version, frame, spec, calibration)

    def _artifacts(self, version: ProductionVersion) -> set[str]:
        """The paths at the top of the version's run's artifacts."""
        from mlflow.exceptions import MlflowException

        try:
            return {artifact.path for artifact in self._client().list_artifacts(version.run_id)}
        except (MlflowException, OSError) as exc:
            raise ReferenceError(
                f"cannot list the artifacts of version {version.version} of {version.name} "
                f"(run {version.run_id}): {exc}"
            ) from exc

    def _calibration(
        self, version: ProductionVersion, names: set[str], folder: str
    ) -> ConfidenceCalibration | None:
        """The version's calibration; None when it has none or it cannot be used (logged)."""
        if CALIBRATION_ARTIFACT not in names:
            return None
        try:
            path = self._download(version, CALIBRATION_ARTIFACT, folder)
            return ConfidenceCalibration.model_validate_json(path.read_text(encoding="utf-8"))
        except (ReferenceError, OSError, ValidationError) as exc:
            log.warning(
                "calibration ignored: the estimate uses raw confidences",
                extra={"model": version.name, "model_version": version.version, "error": str(exc)},
            )
            return None

    def _spec(self, version: ProductionVersion, names: set[str], folder: str) -> ModelSpec:
        """The version's spec (the digits spec for a first-wave digits version without one)."""
        if MODEL_SPEC_ARTIFACT not in names:
            if version.name == MODEL_NAME:  # registered before specs existed
                return digits_spec(version.name)
            raise ReferenceError(
                f"version {version.version} of {version.name} has no {MODEL_SPEC_ARTIFACT} "
                f"in run {version.run_id}"
            )
        try:
            return load_spec(self._download(version, MODEL_SPEC_ARTIFACT, folder))
        except ModelSpecError as exc:
            raise ReferenceError(
                f"version {version.version} of {version.name} has an invalid "
                f"{MODEL_SPEC_ARTIFACT}: {exc}"
            ) from exc

    def _download(self, version: ProductionVersion, artifact: str, folder: str) -> Path:
        from mlflow.artifacts import download_artifacts
        from mlflow.exceptions import MlflowException

        try:
            local = download_artifacts(
                run_id=version.run_id,
                artifact_path=artifact,
                dst_path=folder,
                tracking_uri=self.tracking_uri,
            )
        except (MlflowException, OSError) as exc:
            raise ReferenceError(
                f"version {version.version} of {version.name} has no {artifact} "
                f"in run {version.run_id}: {exc}"
            ) from exc
        return Path(local)
