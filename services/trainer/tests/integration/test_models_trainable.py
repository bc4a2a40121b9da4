"""Which models the trainer trains, against a real MLflow store and Redis (nothing trains here):
retrains refused for imported, unknown and recipe-less models; imports refused over trained
names; bootstrap leaves an imported model alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from mlflow.tracking import MlflowClient

from mlops_common.digits_spec import digits_spec
from mlops_common.jobs import RETRAIN_LOCK_KEY
from mlops_common.registry import ALIAS_STAGING, MODEL_NAME
from mlops_common.testing.pytest_plugin import MlflowStore
from mlops_trainer.cli import main
from mlops_trainer.retrain import run_retrain
from mlops_trainer.settings import TrainerSettings

pytestmark = pytest.mark.integration

IRIS = "iris-classifier"
CLASSES = "setosa,versicolor,virginica"


@pytest.fixture
def settings(mlflow_store: MlflowStore, tmp_path: Path, store: MlflowClient) -> TrainerSettings:
    return TrainerSettings(
        state_dir=tmp_path / "state",
        mlflow_tracking_uri=mlflow_store.tracking_uri,
        artifact_root=mlflow_store.artifact_root,
    )


def snapshot(client: MlflowClient) -> dict[str, Any]:
    """Every registered model's versions and aliases, and every run: what a refusal must keep."""
    models = {
        model.name: (
            sorted(str(v.version) for v in client.search_model_versions(f"name='{model.name}'")),
            {alias: str(version) for alias, version in sorted(model.aliases.items())},
        )
        for model in client.search_registered_models()
    }
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = sorted(run.info.run_id for run in client.search_runs(experiments))
    return {"models": models, "runs": runs}


def import_model(
    capsys: pytest.CaptureFixture[str], name: str, onnx_file: Path, *extra: str
) -> tuple[int, str]:
    code = main(["import", "--name", name, "--onnx", str(onnx_file), "--classes", CLASSES, *extra])
    return code, capsys.readouterr().err


def test_a_retrain_of_an_imported_model_is_refused_and_changes_nothing(
    store: MlflowClient,
    settings: TrainerSettings,
    db: redis.Redis,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    onnx_classifier: Callable[..., Path],
) -> None:
    code, err = import_model(
        capsys, IRIS, onnx_classifier(tmp_path / "iris.onnx"), "--stage", "production"
    )
    assert code == 0, err
    before = snapshot(store)
    result = run_retrain("manual", [], job_id="job-iris", settings=settings, redis=db, model=IRIS)
    assert result == {
        "skipped": True,
        "model": IRIS,
        "refused": "not_trainable",
        "reason": f"model '{IRIS}' is not trainable: it was imported (no training recipe)",
        "trigger": "manual",
        "job_id": "job-iris",
    }
    assert snapshot(store) == before
    assert db.get(RETRAIN_LOCK_KEY) is None


def test_a_retrain_of_an_unknown_or_recipe_less_model_is_refused(
    store: MlflowClient,
    settings: TrainerSettings,
    db: redis.Redis,
    tmp_path: Path,
    onnx_classifier: Callable[..., Path],
    register_trained: Callable[..., str],
    mlflow_store: MlflowStore,
) -> None:
    unknown = run_retrain("drift", [], job_id="j1", settings=settings, redis=db, model="nope")
    assert unknown["skipped"] is True
    assert unknown["refused"] == "no_version"
    assert unknown["reason"].startswith("model 'nope' has no registered version")
    assert store.search_registered_models() == []

    # A trained model whose task the trainer has no recipe for (a version of a later release).
    speech = digits_spec("speech-classifier").model_copy(update={"task": "speech"})
    onnx_file = onnx_classifier(tmp_path / "m.onnx")
    register_trained(store, onnx_file, mlflow_store.artifact_root, spec=speech, name=speech.name)
    before = snapshot(store)
    result = run_retrain("drift", [], job_id="j2", settings=settings, redis=db, model=speech.name)
    assert result["refused"] == "no_recipe"
    assert result["reason"] == (
        "model 'speech-classifier' is not trainable: its task 'speech' has no training recipe"
    )
    assert snapshot(store) == before


@pytest.mark.parametrize("with_spec", [True, False], ids=["trained-spec", "first-wave-no-spec"])
def test_an_import_over_a_trained_model_is_refused(
    store: MlflowClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    onnx_classifier: Callable[..., Path],
    register_trained: Callable[..., str],
    mlflow_store: MlflowStore,
    with_spec: bool,
) -> None:
    onnx_file = onnx_classifier(tmp_path / "m.onnx")
    spec = digits_spec() if with_spec else None
    assert register_trained(store, onnx_file, mlflow_store.artifact_root, spec=spec) == "1"
    before = snapshot(store)
    code, err = import_model(capsys, MODEL_NAME, onnx_file, "--stage", "production")
    assert code == 2
    assert (
        f"model '{MODEL_NAME}' is trained by this project (version 1 was trained here, not "
        "imported); an import cannot add versions to it: choose another --name"
    ) in err
    assert snapshot(store) == before


def test_bootstrap_leaves_an_imported_model_alone(
    store: MlflowClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    onnx_classifier: Callable[..., Path],
) -> None:
    # An outside model imported under the built-in name, staged but not production.
    onnx_file = onnx_classifier(tmp_path / "m.onnx")
    code, err = import_model(capsys, MODEL_NAME, onnx_file, "--stage", "staging")
    assert code == 0, err
    before = snapshot(store)
    assert main(["bootstrap", "--task", "digits"]) == 0
    (printed,) = json.loads(capsys.readouterr().out)["models"]
    assert printed == {
        "model": MODEL_NAME,
        "production": None,
        "trained": False,
        "skipped": f"model '{MODEL_NAME}' is not trainable: it was imported (no training recipe)",
    }
    assert snapshot(store) == before
    assert before["models"][MODEL_NAME] == (["1"], {ALIAS_STAGING: "1"})  # no production made
