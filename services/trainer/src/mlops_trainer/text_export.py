"""ONNX export of the news network with its preprocessing merged in: raw text in.

The network (token ids → probabilities, embedding, n_tokens, oov_share) is exported with
``torch.onnx`` and merged (``onnx.compose``) behind the preprocessing nodes of
:mod:`mlops_common.text_graph` holding its vocabulary, so the version takes a ``BYTES`` tensor
``text`` ``[N]`` and its tokenization and vocabulary travel with it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, compose, helper

from mlops_common.news_spec import (
    EMBEDDING_OUTPUT,
    N_TOKENS_OUTPUT,
    OOV_SHARE_OUTPUT,
    TEXT_INPUT,
)
from mlops_common.registry import ONNX_OUTPUT_NAME
from mlops_common.text_graph import FIRST_WORD_ID, tokenizer_model
from mlops_trainer.export import torch_to_onnx
from mlops_trainer.text_model import NewsBagClassifier, NewsExportModel

log = logging.getLogger(__name__)

_IDS = "ids"
#: Exported outputs are named ``out_<name>`` and renamed after the export: torch.onnx may name
#: an inner value like an output (``embedding``), which leaves the graph invalid.
_OUT = "out_"
OUTPUTS = (ONNX_OUTPUT_NAME, EMBEDDING_OUTPUT, N_TOKENS_OUTPUT, OOV_SHARE_OUTPUT)


def _export_network(network: NewsBagClassifier, opset: int) -> onnx.ModelProto:
    high = FIRST_WORD_ID + max(len(network.vocabulary), 1)
    model = torch_to_onnx(
        NewsExportModel(network).eval(),
        torch.randint(0, high, (2, 7), dtype=torch.int64),
        input_name=_IDS,
        output_names=[_OUT + name for name in OUTPUTS],
        dynamic_axes={0: torch.export.Dim("batch", min=1), 1: torch.export.Dim("tokens", min=1)},
        opset=opset,
    )
    return _renamed(model)


def _renamed(model: onnx.ModelProto) -> onnx.ModelProto:
    """Inner values get a ``net_`` prefix, ``out_<name>`` outputs their ``<name>``."""

    def name(value: str) -> str:
        if not value or value == _IDS:
            return value
        return value.removeprefix(_OUT) if value.startswith(_OUT) else f"net_{value}"

    graph = model.graph
    for node in graph.node:
        node.input[:] = [name(v) for v in node.input]
        node.output[:] = [name(v) for v in node.output]
    for init in graph.initializer:
        init.name = name(init.name)
    for info in [*graph.value_info, *graph.output]:
        info.name = name(info.name)
    return model


def export_news_onnx(network: NewsBagClassifier, path: Path, *, opset: int = 18) -> onnx.ModelProto:
    """Export ``network`` with its preprocessing to ``path``: input ``text`` string ``[N]``,
    outputs ``probabilities`` ``[N, C]``, ``embedding`` ``[N, dim]``, ``n_tokens`` and
    ``oov_share`` ``[N]``. Checked with ``onnx.checker`` (the network also with shape inference)
    before it is returned."""
    path.parent.mkdir(parents=True, exist_ok=True)
    net = _export_network(network, opset)
    pre = tokenizer_model(network.vocabulary, text=TEXT_INPUT, default_opset=opset)
    pre.ir_version = net.ir_version
    onnx.checker.check_model(net, full_check=True)
    model = compose.merge_models(pre, net, io_map=[(_IDS, _IDS)])
    model.doc_string = (
        f"news classifier: text string[N] -> probabilities float32[N,{network.n_classes}], "
        f"embedding float32[N,{network.dim}], n_tokens float32[N], oov_share float32[N]; "
        f"vocabulary of {len(network.vocabulary)} words inside"
    )
    # No full_check (shape inference) here: onnx's crashes on the com.microsoft Tokenizer.
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    log.info("exported ONNX model", extra={"path": str(path), "bytes": path.stat().st_size})
    return model


@dataclass(frozen=True)
class TextParity:
    """How the serving path (the exported graph on raw text) and the training path (the network
    on the ids it trains on) agree over a set of texts."""

    texts: int
    #: Texts whose token ids differ (the graph's own, up to the network's ``max_tokens``).
    ids_differ: int
    #: Texts whose predicted class differs.
    labels_differ: int
    max_abs_diff: float


def text_parity(
    graph: Path, network: NewsBagClassifier, texts: Sequence[str], batch: int = 64
) -> TextParity:
    """Run both paths over ``texts`` (e.g. a whole corpus) and compare ids and answers."""
    from mlops_trainer.train import predict_proba

    model = onnx.load(str(graph))
    model.graph.output.append(helper.make_tensor_value_info(_IDS, TensorProto.INT64, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ids_differ = labels_differ = 0
    max_diff = 0.0
    for start in range(0, len(texts), batch):
        chunk = np.asarray(texts[start : start + batch], dtype=object)
        served, ids = session.run([ONNX_OUTPUT_NAME, _IDS], {TEXT_INPUT: chunk})
        expected_ids = network.prepare(chunk.tolist()).numpy()
        width = min(ids.shape[1], network.max_tokens)
        padded = np.zeros_like(expected_ids)
        padded[:, :width] = ids[:, :width]
        ids_differ += int((padded != expected_ids).any(axis=1).sum())
        trained = predict_proba(network, chunk).numpy()
        labels_differ += int((trained.argmax(1) != served.argmax(1)).sum())
        max_diff = max(max_diff, float(np.abs(trained - served).max()))
    return TextParity(len(texts), ids_differ, labels_differ, max_diff)
