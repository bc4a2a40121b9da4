"""A small outside classifier for tests of many models (inference, drift, the e2e loop):
input ``input`` float32 ``[N, 4]``, output ``scores`` float32 ``[N, 3]`` (Softmax), built with
``onnx.helper`` (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlops_common.testing.onnx_models import IR_VERSION, OPSET

INPUT, OUTPUT = "input", "scores"
NAME = "iris-classifier"
CLASSES = ["setosa", "versicolor", "virginica"]
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_spec(name: str = NAME, **input_changes: Any) -> dict[str, Any]:
    """The model's spec as an import registers it, with ``input_changes`` applied to its input."""
    monitored = [{"name": c, "source": f"input:{i}"} for i, c in enumerate(COLUMNS)]
    return {
        "name": name,
        "task": name,
        "input": {"kind": "features", "tensor": INPUT, "datatype": "FP32", "shape": [-1, 4]}
        | input_changes,
        "output": {"tensor": OUTPUT, "classes": CLASSES},
        "monitored": monitored,
        "preprocessing": "identity@1",
        "trainable": False,
    }


def weights(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The model's weight ``[4, 3]`` and bias ``[3]``."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)


def expected(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """What the model answers for ``x`` (``[N, 4]``): softmax(x @ W + b)."""
    weight, bias = weights(seed)
    z = x.astype(np.float32) @ weight + bias
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def write_iris_model(path: Path, seed: int = 0) -> Path:
    """Write the 4-feature, 3-class model to ``path``."""
    weight, bias = weights(seed)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [INPUT, "w"], ["mm"]),
            helper.make_node("Add", ["mm", "b"], ["z"]),
            helper.make_node("Softmax", ["z"], [OUTPUT], axis=-1),
        ],
        "iris_classifier",
        inputs=[helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", 4])],
        outputs=[helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", 3])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path
