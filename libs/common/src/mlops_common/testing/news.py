"""A small news classifier for tests of the text path (inference, gateway, drift, frontend):
the same interface as a trained news version (:mod:`mlops_common.news_spec`), built with
``onnx.helper`` (no torch, no training).

Its vocabulary is a few words per class (:data:`WORDS`); each word's embedding points at its class,
so ``"the football match"`` is ``sports`` and a text of unknown words is a near-uniform guess::

    path = write_news_model(tmp_path / "news.onnx")
    register_onnx_model(store.tracking_uri, path, name=NEWS_MODEL_NAME, spec=news_test_spec())
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlops_common.model_spec import ModelSpec
from mlops_common.news_spec import (
    EMBEDDING_OUTPUT,
    N_TOKENS_OUTPUT,
    NEWS_MODEL_NAME,
    OOV_SHARE_OUTPUT,
    TEXT_INPUT,
    news_spec,
)
from mlops_common.registry import ONNX_OUTPUT_NAME
from mlops_common.testing.onnx_models import IR_VERSION, OPSET
from mlops_common.text_graph import (
    FIRST_WORD_ID,
    OOV_ID,
    PAD_ID,
    opset_imports,
    token_nodes,
    vocabulary_node,
)

CLASSES: Final = ["business", "entertainment", "politics", "sports", "tech"]
WORDS: Final[dict[str, list[str]]] = {
    "business": ["shares", "profit", "market", "bank"],
    "entertainment": ["film", "music", "actor", "award"],
    "politics": ["election", "minister", "labour", "party"],
    "sports": ["football", "match", "goal", "champion"],
    "tech": ["software", "computer", "internet", "phone"],
}
#: Width of the pooled embedding (one component per class).
EMBEDDING_DIM: Final = len(CLASSES)


def vocabulary() -> list[str]:
    """The model's vocabulary, in id order (from :data:`FIRST_WORD_ID`)."""
    return [word for name in CLASSES for word in WORDS[name]]


def news_test_spec(name: str = NEWS_MODEL_NAME) -> ModelSpec:
    """The model's spec (the news spec with :data:`CLASSES`)."""
    return news_spec(name, classes=CLASSES, embedding_dim=EMBEDDING_DIM)


def _embedding_table() -> np.ndarray:
    words = vocabulary()
    table = np.zeros((FIRST_WORD_ID + len(words), EMBEDDING_DIM), np.float32)
    for index, word in enumerate(words):
        klass = next(i for i, name in enumerate(CLASSES) if word in WORDS[name])
        table[FIRST_WORD_ID + index, klass] = 1.0
    return table


def _f(*values: float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, np.float32))


def write_news_model(path: Path, scale: float = 4.0) -> Path:
    """Write the model to ``path``; ``scale`` sharpens its answers (another scale: another
    version that answers differently)."""
    c = helper.make_node
    nodes = [
        *token_nodes(TEXT_INPUT, "tokens"),
        vocabulary_node("tokens", "ids", vocabulary()),
        c("Gather", ["table", "ids"], ["vectors"]),
        c("Equal", ["ids", "pad_id"], ["is_pad"]),
        c("Not", ["is_pad"], ["is_token"]),
        c("Cast", ["is_token"], ["mask"], to=TensorProto.FLOAT),
        c("Equal", ["ids", "oov_id"], ["is_oov"]),
        c("Cast", ["is_oov"], ["oov"], to=TensorProto.FLOAT),
        c("ReduceSum", ["mask", "axis1"], [N_TOKENS_OUTPUT], keepdims=0),
        c("ReduceSum", ["oov", "axis1"], ["oov_count"], keepdims=0),
        c("Max", [N_TOKENS_OUTPUT, "one"], ["count"]),
        c("Div", ["oov_count", "count"], [OOV_SHARE_OUTPUT]),
        c("Unsqueeze", ["mask", "axis2"], ["mask3"]),
        c("Mul", ["vectors", "mask3"], ["masked"]),
        c("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        c("Unsqueeze", ["count", "axis1"], ["count2"]),
        c("Div", ["summed", "count2"], [EMBEDDING_OUTPUT]),
        c("Mul", [EMBEDDING_OUTPUT, "scale"], ["logits"]),
        c("Softmax", ["logits"], [ONNX_OUTPUT_NAME], axis=-1),
    ]
    constants = [
        numpy_helper.from_array(_embedding_table(), "table"),
        numpy_helper.from_array(np.asarray(PAD_ID, np.int64), "pad_id"),
        numpy_helper.from_array(np.asarray(OOV_ID, np.int64), "oov_id"),
        numpy_helper.from_array(np.asarray([1], np.int64), "axis1"),
        numpy_helper.from_array(np.asarray([2], np.int64), "axis2"),
        numpy_helper.from_array(np.asarray(1.0, np.float32), "one"),
        numpy_helper.from_array(np.asarray(scale, np.float32), "scale"),
    ]
    floats = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "news_test_classifier",
        [helper.make_tensor_value_info(TEXT_INPUT, TensorProto.STRING, ["N"])],
        [
            helper.make_tensor_value_info(ONNX_OUTPUT_NAME, floats, ["N", len(CLASSES)]),
            helper.make_tensor_value_info(EMBEDDING_OUTPUT, floats, ["N", EMBEDDING_DIM]),
            helper.make_tensor_value_info(N_TOKENS_OUTPUT, floats, ["N"]),
            helper.make_tensor_value_info(OOV_SHARE_OUTPUT, floats, ["N"]),
        ],
        initializer=constants,
    )
    model = helper.make_model(graph, opset_imports=opset_imports(OPSET))
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path
