"""Digits-contract ONNX models whose live accuracy a rollout test controls.

- :func:`write_constant_model` answers one class for every input: the deliberately bad version
  that probation must roll back.
- :func:`write_failing_model` loads and warms up (on zeros) but fails at run time on any row
  with a value ≥ 2 (every real digit): the version whose error rate probation must catch.
- :func:`write_lookup_model` knows a set of rows and answers, for any input, the label given
  for the nearest known row (1-nearest neighbour as ``MatMul`` → ``ArgMax`` → ``Gather``):
  on traffic drawn from those rows its accuracy is whatever share of labels is right, so a
  test can build a candidate better or worse than production on live traffic at will.

Both take ``features`` ``float32[N, 64]`` and answer ``probabilities`` ``float32[N, 10]``, as the
digits spec says. Needs ``onnx``; never imported by services.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from numpy.typing import ArrayLike
from onnx import TensorProto, helper, numpy_helper

from mlops_common.registry import N_CLASSES, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME
from mlops_common.testing.onnx_models import IR_VERSION, OPSET

_WIDTH = 64


def _save(nodes: list[onnx.NodeProto], initializers: list[onnx.TensorProto], path: Path) -> Path:
    graph = helper.make_graph(
        nodes,
        "rollout_test_model",
        inputs=[helper.make_tensor_value_info(ONNX_INPUT_NAME, TensorProto.FLOAT, ["N", _WIDTH])],
        outputs=[
            helper.make_tensor_value_info(ONNX_OUTPUT_NAME, TensorProto.FLOAT, ["N", N_CLASSES])
        ],
        initializer=initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mlops_common.testing"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path


def write_constant_model(path: Path | str, label: int = 0) -> Path:
    """A model that answers ``label`` with confidence ~0.99 whatever the input."""
    logits = np.full((1, N_CLASSES), -2.0, dtype=np.float32)
    logits[0, label] = 5.0
    weight = np.zeros((_WIDTH, N_CLASSES), dtype=np.float32)
    nodes = [
        helper.make_node("MatMul", [ONNX_INPUT_NAME, "zero"], ["z"]),
        helper.make_node("Add", ["z", "logits"], ["scores"]),
        helper.make_node("Softmax", ["scores"], [ONNX_OUTPUT_NAME], axis=-1),
    ]
    initializers = [
        numpy_helper.from_array(weight, "zero"),
        numpy_helper.from_array(logits, "logits"),
    ]
    return _save(nodes, initializers, Path(path))


def write_failing_model(path: Path | str) -> Path:
    """A model whose run raises (Gather out of bounds) for a row holding a value ≥ 2."""
    table = np.full((2, N_CLASSES), 1.0 / N_CLASSES, dtype=np.float32)
    nodes = [
        helper.make_node("ReduceMax", [ONNX_INPUT_NAME], ["peak"], axes=[1], keepdims=0),
        helper.make_node("Cast", ["peak"], ["index"], to=TensorProto.INT64),
        helper.make_node("Gather", ["table", "index"], [ONNX_OUTPUT_NAME], axis=0),
    ]
    return _save(nodes, [numpy_helper.from_array(table, "table")], Path(path))


def write_lookup_model(
    path: Path | str, rows: ArrayLike, labels: ArrayLike, confidence: float = 0.95
) -> Path:
    """A 1-nearest-neighbour model over ``rows`` (``[M, 64]``) answering ``labels`` (``[M]``)
    with ``confidence`` (the rest spread over the other classes)."""
    known = np.asarray(rows, dtype=np.float32).reshape(-1, _WIDTH)
    answers = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(known) != len(answers):
        raise ValueError(f"{len(known)} rows but {len(answers)} labels")
    rest = (1.0 - confidence) / (N_CLASSES - 1)
    table = np.full((len(known), N_CLASSES), rest, dtype=np.float32)
    table[np.arange(len(known)), answers] = confidence
    # argmin ||x - r||² = argmax (x·r - ||r||²/2)
    half_norms = (0.5 * (known.astype(np.float64) ** 2).sum(axis=1)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", [ONNX_INPUT_NAME, "rows_t"], ["dots"]),
        helper.make_node("Sub", ["dots", "half_norms"], ["scores"]),
        helper.make_node("ArgMax", ["scores"], ["nearest"], axis=1, keepdims=0),
        helper.make_node("Gather", ["table", "nearest"], [ONNX_OUTPUT_NAME], axis=0),
    ]
    initializers = [
        numpy_helper.from_array(np.ascontiguousarray(known.T), "rows_t"),
        numpy_helper.from_array(half_norms, "half_norms"),
        numpy_helper.from_array(table, "table"),
    ]
    return _save(nodes, initializers, Path(path))
