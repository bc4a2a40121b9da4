"""Integration fixtures of the trainer: a clean database on the session's real Redis, a store
that ``mlops-train import`` writes to, small ONNX classifiers to import."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import numpy as np
import onnx
import pytest
import redis
from mlflow.tracking import MlflowClient
from onnx import TensorProto, helper, numpy_helper

from mlops_common.model_spec import MODEL_SPEC_ARTIFACT, ModelSpec
from mlops_common.registry import MODEL_NAME, ONNX_ARTIFACT_PATH
from mlops_common.testing.pytest_plugin import MlflowStore
from mlops_common.testing.servers import free_port
from mlops_trainer.registry import ensure_experiment, make_client, register_version


@pytest.fixture
def db(redis_url: str) -> Iterator[redis.Redis]:
    """The session's Redis, emptied before and after the test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def write_classifier(
    path: Path,
    *,
    width: int = 4,
    classes: int = 3,
    input_type: int = TensorProto.FLOAT,
    two_outputs: bool = False,
) -> Path:
    """``input`` [N, width] → MatMul + Add → Softmax → ``probabilities`` [N, classes]."""
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.normal(size=(width, classes)).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.normal(size=classes).astype(np.float32), "B")
    nodes = []
    source = "input"
    if input_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["input"], ["as_float"], to=TensorProto.FLOAT))
        source = "as_float"
    nodes += [
        helper.make_node("MatMul", [source, "W"], ["logits_raw"]),
        helper.make_node("Add", ["logits_raw", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    outputs = [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])]
    if two_outputs:
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes]))
    graph = helper.make_graph(
        nodes,
        "classifier",
        [helper.make_tensor_value_info("input", input_type, ["N", width])],
        outputs,
        initializer=[weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(path))
    return path


@pytest.fixture
def onnx_classifier() -> Callable[..., Path]:
    """:func:`write_classifier`, to build a model file in a test."""
    return write_classifier


@pytest.fixture
def register_trained() -> Callable[..., str]:
    """:func:`register_like_the_trainer`, to put a trained-looking version in the store."""
    return register_like_the_trainer


@pytest.fixture
def store(
    mlflow_store: MlflowStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> MlflowClient:
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TRAINER_ARTIFACT_ROOT", str(mlflow_store.artifact_root))
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # none: not announced
    """The test's MLflow store as the CLI sees it (no Redis: promotions are not announced)."""
    return make_client(mlflow_store.tracking_uri)


def register_like_the_trainer(
    client: MlflowClient,
    onnx_file: Path,
    artifact_root: Path,
    *,
    spec: ModelSpec | None,
    name: str = MODEL_NAME,
) -> str:
    """Register ``onnx_file`` as a version of ``name`` the way the trainer does, with ``spec``
    (None: no spec, as a first-wave version); returns the version. No training: the model's
    shape does not matter to the registry."""
    experiment_id = ensure_experiment(client, name, artifact_root / name)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.onnx.log_model(onnx.load_model(str(onnx_file)), name=ONNX_ARTIFACT_PATH)
        if spec is not None:
            mlflow.log_text(spec.to_json(), MODEL_SPEC_ARTIFACT)
    version = register_version(client, model_uri=info.model_uri, run_id=run.info.run_id, name=name)
    return str(version.version)
