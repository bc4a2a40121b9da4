"""``make up`` (scripts/stack.py): which models inference is told to serve.

The registry is a real MLflow SQLite store, written with ``MlflowClient`` exactly as the MLflow
server of the Procfile writes it, so a change of MLflow's tables fails here, not at start-up.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402
import stack_registry  # noqa: E402


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with ``iris`` (alias production) and ``wine`` (only a staging alias)."""
    from mlflow import MlflowClient

    db = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name, alias in (("iris", "production"), ("wine", "staging")):
        client.create_registered_model(name)
        version = client.create_model_version(name, source=str(db.parent / name))
        client.set_registered_model_alias(name, alias, version.version)
    return db


def _config(tmp_path: Path) -> stack.StackConfig:
    env = {"MLOPS_STATE_DIR": str(tmp_path / "state"), "GATEWAY_ADMIN_API_KEYS": "k"}
    return stack.StackConfig.from_env(env)


@pytest.mark.integration
def test_only_models_with_a_production_alias_are_served(registry: Path) -> None:
    started = time.monotonic()
    found = stack_registry.production_models(registry)
    elapsed = time.monotonic() - started
    assert found == ["iris"]
    assert elapsed < 0.5, f"reading the aliases took {elapsed:.2f}s: it delays every make up"
    assert stack_registry.served_models(found) == ["digits-classifier", "news-classifier", "iris"]


@pytest.mark.integration
def test_the_mlflow_client_fallback_finds_the_same_models(registry: Path) -> None:
    assert stack_registry.production_models_from_client(f"sqlite:///{registry}") == ["iris"]


@pytest.mark.integration
def test_a_store_with_other_tables_is_read_through_the_client(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "mlflow.db"
    sqlite3.connect(db).close()  # an empty database: no registered_model_aliases table
    assert stack_registry.production_models(db) == []


def test_first_start_without_a_store_serves_the_default_model(tmp_path: Path) -> None:
    assert stack_registry.production_models(tmp_path / "missing.db") == []
    assert stack_registry.served_models([]) == ["digits-classifier", "news-classifier"]
    assert stack_registry.served_models(["zeta", "digits-classifier", "iris"]) == [
        "digits-classifier",
        "news-classifier",
        "iris",
        "zeta",
    ]


def test_the_served_models_reach_inference_models(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert config.registry_db == tmp_path / "state" / "mlflow" / "mlflow.db"
    env = config.environment({}, ["digits-classifier", "iris"])
    assert env["INFERENCE_MODELS"] == "digits-classifier,iris"
    urls = stack.model_urls(config, env["INFERENCE_MODELS"])
    gateway = config.url("GATEWAY_PORT")
    assert urls == [
        f"  model     digits-classifier  {gateway}/v2/models/digits-classifier/infer",
        f"  model     iris  {gateway}/v2/models/iris/infer",
    ]


def test_the_users_own_model_settings_win(tmp_path: Path) -> None:
    config = _config(tmp_path)
    mine = config.environment({"INFERENCE_MODELS": "toy=/m/toy.onnx"}, ["digits-classifier"])
    assert mine["INFERENCE_MODELS"] == "toy=/m/toy.onnx"
    assert stack.model_urls(config, mine["INFERENCE_MODELS"])[0].split()[1] == "toy"
    one = config.environment({"INFERENCE_MODEL_URI": "/m/x.onnx"}, ["digits-classifier", "iris"])
    assert "INFERENCE_MODELS" not in one
    assert one["INFERENCE_MODEL_URI"] == "/m/x.onnx"


def test_an_unreadable_store_warns_and_serves_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    config.registry_db.parent.mkdir(parents=True)
    config.registry_db.write_text("not a database")
    assert stack.registered_models(config) == []
    assert "cannot read the production aliases" in capsys.readouterr().err
