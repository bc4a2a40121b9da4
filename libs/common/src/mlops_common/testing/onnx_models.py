"""Small valid ONNX models of our contract, written without torch (test and benchmark support).

Every model takes input ``features`` float32 ``[N, 64]`` on the 0..16 scale (normalised to 0..1
inside the graph) and returns ``probabilities`` float32 ``[N, 10]`` through a Softmax, exactly
like the trainer's exports (see :mod:`mlops_common.registry`)::

    path = write_linear_model(tmp_path / "linear.onnx", seed=0)       # tiny, fast
    big = write_mlp_model(tmp_path / "mlp.onnx", hidden=(2048, 2048))  # heavier, for benchmarks
    bad = write_broken_model(tmp_path / "broken.onnx")                 # onnxruntime refuses it
    version = register_onnx_model(store.tracking_uri, path, alias="production")

Different seeds give different weights, hence different predictions: tests of a hot swap can
tell two versions apart by their outputs as well as by the version in the response.
Needs ``onnx`` (and ``mlflow`` for :func:`register_onnx_model`); never imported by services.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlops_common.features import FEATURE_MAX, N_FEATURES, FloatArray
from mlops_common.model_spec import MODEL_SPEC_ARTIFACT
from mlops_common.registry import (
    ALIAS_PRODUCTION,
    MODEL_NAME,
    N_CLASSES,
    ONNX_ARTIFACT_PATH,
    ONNX_INPUT_NAME,
    ONNX_OUTPUT_NAME,
    REFERENCE_ARTIFACT,
)

#: Opset and IR version every onnxruntime of the last few years loads.
OPSET = 17
IR_VERSION = 8

_TEST_EXPERIMENT = "test-models"


def _dense_layers(sizes: Sequence[int], seed: int) -> list[tuple[FloatArray, FloatArray]]:
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        weight = rng.normal(0.0, (2.0 / fan_in) ** 0.5, size=(fan_in, fan_out))
        bias = rng.normal(0.0, 0.1, size=(fan_out,))
        layers.append((weight.astype(np.float32), bias.astype(np.float32)))
    return layers


def build_model(hidden: Sequence[int] = (), seed: int = 0) -> onnx.ModelProto:
    """Build the contract's graph: scale by 1/16, dense layers with ReLU between, Softmax.

    ``hidden=()`` gives a linear (multinomial logistic) model; ``hidden=(2048, 2048)`` an MLP.
    """
    sizes = [N_FEATURES, *hidden, N_CLASSES]
    scale = numpy_helper.from_array(np.array(1.0 / FEATURE_MAX, dtype=np.float32), "scale")
    initializers = [scale]
    nodes = [helper.make_node("Mul", [ONNX_INPUT_NAME, "scale"], ["x0"])]
    current = "x0"
    layers = _dense_layers(sizes, seed)
    for index, (weight, bias) in enumerate(layers):
        w_name, b_name = f"w{index}", f"b{index}"
        initializers += [numpy_helper.from_array(weight, w_name)]
        initializers += [numpy_helper.from_array(bias, b_name)]
        nodes.append(helper.make_node("MatMul", [current, w_name], [f"mm{index}"]))
        nodes.append(helper.make_node("Add", [f"mm{index}", b_name], [f"z{index}"]))
        current = f"z{index}"
        if index < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"h{index}"]))
            current = f"h{index}"
    nodes.append(helper.make_node("Softmax", [current], [ONNX_OUTPUT_NAME], axis=-1))
    graph = helper.make_graph(
        nodes,
        "digits_classifier",
        inputs=[helper.make_tensor_value_info(ONNX_INPUT_NAME, TensorProto.FLOAT, ["N", 64])],
        outputs=[helper.make_tensor_value_info(ONNX_OUTPUT_NAME, TensorProto.FLOAT, ["N", 10])],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="mlops_common.testing",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _write(model: onnx.ModelProto, path: Path | str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(target))
    return target


def write_linear_model(path: Path | str, seed: int = 0) -> Path:
    """Write a linear model (64 → 10, Softmax) to ``path`` and return the path."""
    return _write(build_model((), seed), path)


def write_mlp_model(path: Path | str, hidden: Sequence[int] = (2048, 2048), seed: int = 0) -> Path:
    """Write an MLP (64 → hidden… → 10, ReLU, Softmax) to ``path`` and return the path.

    The default (two 2048-wide layers, about 4.3 M parameters, 17 MB) is heavy enough that
    batching pays off; use e.g. ``hidden=(32,)`` for a small one.
    """
    return _write(build_model(tuple(hidden), seed), path)


def write_broken_model(path: Path | str) -> Path:
    """Write a file named like a model that onnxruntime refuses to load (not an ONNX graph)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"this is not an ONNX model\x00\xff" * 8)
    return target


def _log_reference(source: Path) -> None:
    """Log ``source`` in the active run under the name and folder of ``REFERENCE_ARTIFACT``."""
    import shutil
    import tempfile

    import mlflow

    folder, _, filename = REFERENCE_ARTIFACT.rpartition("/")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / filename
        shutil.copyfile(source, target)
        mlflow.log_artifact(str(target), artifact_path=folder or None)


def _experiment_id(client: Any, tracking_uri: str) -> str | None:
    """An experiment whose artifacts sit beside a local sqlite store (never in ``./mlruns``)."""
    if not tracking_uri.startswith("sqlite:///"):
        return None  # a tracking server stores artifacts where it is configured to
    experiment = client.get_experiment_by_name(_TEST_EXPERIMENT)
    if experiment is not None:
        return str(experiment.experiment_id)
    db_path = Path(tracking_uri.removeprefix("sqlite:///"))
    location = (db_path.parent / "artifacts").resolve().as_uri()
    return str(client.create_experiment(_TEST_EXPERIMENT, artifact_location=location))


def register_onnx_model(
    tracking_uri: str,
    path: Path | str,
    alias: str | None = ALIAS_PRODUCTION,
    name: str = MODEL_NAME,
    reference_csv: Path | str | None = None,
    spec: dict[str, Any] | None = None,
) -> str:
    """Log the ONNX file at ``path`` in a new run and register it as a version of ``name``.

    The model is logged with the ``mlflow.onnx`` flavour at artifact path ``model``; when
    ``alias`` is given it is pointed at the new version (``production`` through
    :func:`mlops_common.promotion.promote`, so rollback sees it). A broken file is logged as a plain
    ``model/model.onnx`` artifact (so a registered version can hold a model that fails to load).
    ``reference_csv``, when given, is logged in the same run at
    :data:`~mlops_common.registry.REFERENCE_ARTIFACT` (the drift reference); ``spec`` (a model
    spec as a dict, not validated: tests may register a bad one) at ``model-spec.json``.
    Returns the new version number as a string.
    """
    import mlflow
    from mlflow import MlflowClient

    from mlops_common import promotion

    source = Path(path)
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    with mlflow.start_run(experiment_id=_experiment_id(client, tracking_uri)) as run:
        try:
            model = onnx.load_model(str(source))
        except Exception:  # a deliberately broken file: store the bytes as they are
            mlflow.log_artifact(str(source), artifact_path=ONNX_ARTIFACT_PATH)
            model_uri, model_id = f"runs:/{run.info.run_id}/{ONNX_ARTIFACT_PATH}", None
        else:
            info = mlflow.onnx.log_model(
                model,
                name=ONNX_ARTIFACT_PATH,
                pip_requirements=["onnx", "onnxruntime"],  # skip slow requirement inference
                save_as_external_data=False,
            )
            # An MLflow server accepts a logged model's ``models:/m-…`` source only with its id.
            model_uri, model_id = info.model_uri, info.model_id
        if reference_csv is not None:
            _log_reference(Path(reference_csv))
        if spec is not None:
            mlflow.log_text(json.dumps(spec), MODEL_SPEC_ARTIFACT)
    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(name)
    version = client.create_model_version(
        name, model_uri, run_id=run.info.run_id, model_id=model_id
    )
    if alias == ALIAS_PRODUCTION:
        promotion.promote(client, version.version, name=name)
    elif alias:
        promotion.set_alias(client, alias, version.version, name)
    return str(version.version)
