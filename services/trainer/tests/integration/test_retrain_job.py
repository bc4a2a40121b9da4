"""A retraining job in-process with a real Redis and MLflow store: bootstrap, undo, redelivery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from mlflow.tracking import MlflowClient

from mlops_common import promotion
from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING, MODEL_NAME
from mlops_common.testing.pytest_plugin import MlflowStore
from mlops_trainer import registry
from mlops_trainer.cli import main
from mlops_trainer.config import compose_config
from mlops_trainer.pipeline import run_pipeline
from mlops_trainer.retrain import JOB_TAG, run_retrain
from mlops_trainer.settings import TrainerSettings

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(
    mlflow_store: MlflowStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_overrides
) -> TrainerSettings:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))
    return TrainerSettings(
        state_dir=tmp_path / "state",
        mlflow_tracking_uri=mlflow_store.tracking_uri,
        artifact_root=mlflow_store.artifact_root,
        retrain_overrides=fast_overrides,
    )


def _state(client: MlflowClient) -> tuple[list[str], str | None, str | None]:
    versions = sorted(str(v.version) for v in client.search_model_versions(f"name='{MODEL_NAME}'"))
    staging = promotion.alias_version(client, ALIAS_STAGING)
    production = promotion.alias_version(client, ALIAS_PRODUCTION)
    return (
        versions,
        str(staging.version) if staging else None,
        str(production.version) if production else None,
    )


def test_bootstrap_then_failed_and_redelivered_jobs_leave_nothing_half_done(
    settings: TrainerSettings,
    mlflow_store: MlflowStore,
    db: redis.Redis,
    fast_overrides: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bootstrap", "--task", "digits", *fast_overrides]) == 0
    (first,) = json.loads(capsys.readouterr().out)["models"]
    assert first["model"] == MODEL_NAME
    assert first["trained"] is True
    assert first["production"] == "1"
    assert main(["bootstrap", "--task", "digits"]) == 0  # production exists: nothing to do
    assert json.loads(capsys.readouterr().out) == {
        "models": [{"model": MODEL_NAME, "production": "1", "trained": False}]
    }
    client = registry.make_client(mlflow_store.tracking_uri)
    assert _state(client) == (["1"], "1", "1")

    # A job that fails after its version was registered and staged: all of it is undone.
    def broken_promote(*_: object, **__: object) -> None:
        raise RuntimeError("registry went away")

    monkeypatch.setattr(promotion, "promote", broken_promote)
    with pytest.raises(RuntimeError, match="registry went away"):
        run_retrain("drift", ["registry.margin=-1"], job_id="job-fail", settings=settings, redis=db)
    monkeypatch.undo()
    assert _state(client) == (["1"], "1", "1")
    experiment = client.get_experiment_by_name(settings.experiment_name).experiment_id
    (failed_run,) = client.search_runs([experiment], f"tags.{JOB_TAG} = 'job-fail'")
    assert failed_run.info.status in {"FAILED", "KILLED"}

    # An earlier attempt of job-x registered v3 and was killed before it moved production;
    # the redelivered job-x removes that version before it trains again.
    cfg = compose_config([*fast_overrides, "registry.promote=false"])
    earlier = run_pipeline(cfg, settings=settings, tags={JOB_TAG: "job-x"})
    assert _state(client) == (["1", earlier.version], earlier.version, "1")
    result = run_retrain("drift", [], job_id="job-x", settings=settings, redis=db)
    versions, staging, production = _state(client)
    assert earlier.version not in versions
    assert versions == ["1", result["version"]]
    assert staging == result["version"]
    assert production == (result["version"] if result["promoted"] else "1")
    assert result["job_id"] == "job-x"
    assert result["model"] == MODEL_NAME
    assert result["trigger"] == "drift"
    assert result["reason"]
    assert result["feedback"]["used"] == 0
