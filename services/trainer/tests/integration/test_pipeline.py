"""The pipeline end to end in a throwaway MLflow store: train, export, register, aliases, rule."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from mlops_common.calibration import CALIBRATION_ARTIFACT, ConfidenceCalibration
from mlops_common.digits_spec import digits_spec
from mlops_common.features import FEATURE_NAMES
from mlops_common.model_spec import MODEL_SPEC_ARTIFACT, load_spec
from mlops_common.promotion import PromotionError, rollback
from mlops_common.registry import (
    ALIAS_PRODUCTION,
    ALIAS_STAGING,
    MODEL_NAME,
    REFERENCE_ARTIFACT,
)
from mlops_common.testing.pytest_plugin import MlflowStore
from mlops_common.testing.servers import free_port
from mlops_trainer.cli import main
from mlops_trainer.config import compose_config
from mlops_trainer.export import ParityError
from mlops_trainer.pipeline import run_pipeline
from mlops_trainer.registry import make_client
from mlops_trainer.settings import TrainerSettings


@pytest.fixture
def settings(mlflow_store: MlflowStore, tmp_path: Path) -> TrainerSettings:
    return TrainerSettings(
        state_dir=tmp_path / "state",
        mlflow_tracking_uri=mlflow_store.tracking_uri,
        artifact_root=mlflow_store.artifact_root,
    )


def _alias(client: MlflowClient, alias: str) -> str:
    return str(client.get_model_version_by_alias(MODEL_NAME, alias).version)


def test_pipeline_registers_promotes_by_the_rule_and_rolls_back(
    settings: TrainerSettings,
    mlflow_store: MlflowStore,
    monkeypatch: pytest.MonkeyPatch,
    fast_overrides: list[str],
) -> None:
    events: list[tuple[str, int | None, float]] = []
    first = run_pipeline(
        compose_config(fast_overrides),
        settings=settings,
        on_progress=lambda *event: events.append(event),
    )
    client = make_client(mlflow_store.tracking_uri)

    # First version: registered, staging, and promoted since there is no production yet.
    assert first.version == "1"
    assert first.promoted
    assert first.parity["ok"]
    assert first.parity["max_abs_diff"] <= 1e-4
    assert _alias(client, ALIAS_STAGING) == _alias(client, ALIAS_PRODUCTION) == "1"
    stages = [stage for stage, _, _ in events]
    assert stages[0] == "data"
    assert stages[-1] == "done"
    assert {"train", "evaluate", "export", "parity", "register", "promote"} <= set(stages)
    assert [epoch for stage, epoch, _ in events if stage == "train"] == [1, 2]

    # The run holds everything the contract names, under the configured artifact folder.
    run = client.get_run(first.run_id)
    assert run.data.metrics["test_accuracy"] == pytest.approx(first.metrics["test_accuracy"])
    assert {"test_f1", "onnx_test_accuracy", "parity_max_abs_diff"} <= set(run.data.metrics)
    assert run.data.tags["data_hash"] == first.data_hash
    assert run.info.artifact_uri.startswith(mlflow_store.artifact_root.as_uri())
    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"config", "data", "evaluation", "reference", "model_card.md"} <= artifacts
    reference = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/{REFERENCE_ARTIFACT}")
    rows = list(csv.DictReader(io.StringIO(reference)))
    assert len(rows) == 50
    assert list(rows[0]) == [*FEATURE_NAMES, "label", "prediction", "confidence"]
    onnx_dir = mlflow.artifacts.download_artifacts(f"runs:/{first.run_id}/model")
    assert (Path(onnx_dir) / "model.onnx").is_file()
    spec = load_spec(mlflow.artifacts.load_text(f"{run.info.artifact_uri}/{MODEL_SPEC_ARTIFACT}"))
    assert spec == digits_spec()
    assert (spec.input.tensor, spec.input.shape, spec.trainable) == ("features", [-1, 64], True)
    assert spec.monitored_names == [*FEATURE_NAMES, "prediction", "confidence"]
    # The confidence calibration, fitted on val and checked on test, travels with the version.
    calibration = ConfidenceCalibration.model_validate_json(
        mlflow.artifacts.load_text(f"{run.info.artifact_uri}/{CALIBRATION_ARTIFACT}")
    )
    assert calibration.fitted_rows == 180
    assert run.data.metrics["test_ece_calibrated"] == pytest.approx(calibration.ece_calibrated)
    assert 0 < run.data.metrics["test_cbpe_accuracy"] <= 1

    # Same config, a margin it cannot meet: same metrics (same seed), staged, not promoted.
    # Also profiled: the trace and the cProfile file become run artifacts.
    second = run_pipeline(
        compose_config([*fast_overrides, "registry.margin=0.5", "profile=true"]), settings=settings
    )
    assert second.metrics == first.metrics
    assert second.version == "2"
    assert not second.promoted
    assert second.production_version == "1"
    assert second.production_metrics["test_accuracy"] == pytest.approx(
        first.metrics["test_accuracy"]
    )
    assert _alias(client, ALIAS_STAGING) == "2"
    assert _alias(client, ALIAS_PRODUCTION) == "1"
    profile = {a.path for a in client.list_artifacts(second.run_id, "profile")}
    assert "profile/train.prof" in profile
    assert any(p.endswith(".pt.trace.json") for p in _walk(client, second.run_id, "profile/torch"))

    # Promote by hand, roll back to what was production before, and no further.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store.tracking_uri)
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # none: not announced
    assert main(["promote", "2"]) == 0
    assert _alias(client, ALIAS_PRODUCTION) == "2"
    assert main(["rollback"]) == 0
    assert _alias(client, ALIAS_PRODUCTION) == "1"
    with pytest.raises(PromotionError, match="no earlier"):
        rollback(client)
    assert rollback(client, "2").previous == "1"
    assert _alias(client, ALIAS_PRODUCTION) == "2"
    assert main(["promote", "99"]) == 2


def _walk(client: MlflowClient, run_id: str, path: str) -> list[str]:
    found: list[str] = []
    for item in client.list_artifacts(run_id, path):
        found.extend(_walk(client, run_id, item.path) if item.is_dir else [item.path])
    return found


def test_failed_parity_registers_nothing(
    settings: TrainerSettings, mlflow_store: MlflowStore, fast_overrides: list[str]
) -> None:
    cfg = compose_config([*fast_overrides, "export.parity_atol=-1"])
    with pytest.raises(ParityError):
        run_pipeline(cfg, settings=settings)
    client = make_client(mlflow_store.tracking_uri)
    assert client.search_model_versions(f"name='{MODEL_NAME}'") == []
    (run,) = client.search_runs(
        [client.get_experiment_by_name(settings.experiment_name).experiment_id]
    )
    assert run.info.status == "FAILED"
