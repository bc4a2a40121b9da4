"""What the rollout controller asks of the MLflow registry, and the moves it makes there.

Blocking MLflow calls: the controller runs them in a worker thread. Every move goes through
:mod:`mlops_common.promotion` (history, announcement on ``model-events``). Figures that never
change for a version (its offline accuracy, its calibration) are cached.
"""

from __future__ import annotations

import logging
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from mlops_common import promotion
from mlops_common.calibration import CALIBRATION_ARTIFACT, ConfidenceCalibration
from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING

log = logging.getLogger(__name__)

#: The offline metric the gate compares, and its twin for production on the same test set.
OFFLINE_METRIC = "test_accuracy"
PRODUCTION_OFFLINE_METRIC = "production_test_accuracy"


class RolloutRegistry:
    """The registry as the controller uses it; ``publish`` announces moves (sync Redis)."""

    def __init__(self, tracking_uri: str, publish: promotion.Publish | None) -> None:
        self.tracking_uri = tracking_uri
        self._publish = publish
        self._calibration = lru_cache(maxsize=64)(self._load_calibration)
        self._metrics = lru_cache(maxsize=256)(self._run_metrics)

    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def aliases(self, name: str) -> tuple[str | None, str | None]:
        """``(production, staging)`` versions of ``name`` (``None`` where an alias is unset)."""
        client = self._client()
        found = [
            promotion.alias_version(client, alias, name)
            for alias in (ALIAS_PRODUCTION, ALIAS_STAGING)
        ]
        production, staging = (str(v.version) if v is not None else None for v in found)
        return production, staging

    def _run_id(self, name: str, version: str) -> str:
        return str(self._client().get_model_version(name, version).run_id)

    def _run_metrics(self, name: str, version: str) -> dict[str, float]:
        return dict(self._client().get_run(self._run_id(name, version)).data.metrics)

    def offline(
        self, name: str, candidate: str, production: str
    ) -> tuple[float | None, float | None]:
        """``(candidate, production)`` offline accuracies: both from the candidate's run (the
        same test set) when it logged production's, else each version's own ``test_accuracy``."""
        mine = self._metrics(name, candidate)
        if OFFLINE_METRIC in mine and PRODUCTION_OFFLINE_METRIC in mine:
            return mine[OFFLINE_METRIC], mine[PRODUCTION_OFFLINE_METRIC]
        theirs = self._metrics(name, production)
        return mine.get(OFFLINE_METRIC), theirs.get(OFFLINE_METRIC)

    def _load_calibration(self, name: str, version: str) -> ConfidenceCalibration | None:
        from mlflow.artifacts import download_artifacts
        from mlflow.exceptions import MlflowException

        try:
            run_id = self._run_id(name, version)
            with tempfile.TemporaryDirectory(prefix="rollout-calibration-") as folder:
                local = download_artifacts(
                    run_id=run_id,
                    artifact_path=CALIBRATION_ARTIFACT,
                    dst_path=folder,
                    tracking_uri=self.tracking_uri,
                )
                return ConfidenceCalibration.model_validate_json(Path(local).read_text())
        except (MlflowException, OSError, ValueError):
            return None  # an imported version has none: its raw confidence stands in

    def calibration(self, name: str, version: str) -> ConfidenceCalibration | None:
        """The version's confidence calibration, or ``None`` when it registered none."""
        return self._calibration(name, version)

    def undo(self, name: str, version: str) -> promotion.Promotion:
        """Put ``production`` back on ``version`` (the regressing promotion leaves the history)."""
        return promotion.undo(self._client(), version, name=name, publish=self._publish)

    def promote(self, name: str, version: str) -> promotion.Promotion:
        """Move ``production`` to ``version``."""
        return promotion.promote(self._client(), version, name=name, publish=self._publish)
