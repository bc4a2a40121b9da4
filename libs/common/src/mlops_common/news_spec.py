"""The news task's model spec: raw article text in, topic classes out, monitored on its outputs.

A trained news version's ONNX graph does its own preprocessing (lower-casing, tokenizing, the
vocabulary lookup), so it takes the text itself, a ``BYTES`` tensor ``text`` of shape ``[-1]``
(one string per instance), and any Open Inference Protocol client can send raw text. Besides
``probabilities`` it answers what drift watches, computed by the same graph for the reference and
for live traffic: ``embedding`` (the pooled text embedding, ``[N, D]``), ``n_tokens`` (tokens
read, ``[N]``) and ``oov_share`` (the share of them outside the vocabulary, ``[N]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from mlops_common.model_spec import SOURCE_CONFIDENCE, SOURCE_LABEL, ModelSpec, parse_spec
from mlops_common.registry import (
    ONNX_OUTPUT_NAME,
    REFERENCE_CONFIDENCE_COLUMN,
    REFERENCE_PREDICTION_COLUMN,
)

NEWS_TASK: Final = "news"
NEWS_MODEL_NAME: Final = "news-classifier"
#: Lower-cased, tokenized on runs of letters and digits, vocabulary ids (inside the graph).
NEWS_PREPROCESSING: Final = "news-tokens@1"
TEXT_INPUT: Final = "text"
EMBEDDING_OUTPUT: Final = "embedding"
N_TOKENS_OUTPUT: Final = "n_tokens"
OOV_SHARE_OUTPUT: Final = "oov_share"
#: The topics of the BBC articles the default news model is trained on (their folder names).
BBC_CLASSES: Final = ("business", "entertainment", "politics", "sports", "tech")


def embedding_column(index: int) -> str:
    """The monitored column of embedding component ``index`` (``embedding_0``...)."""
    return f"{EMBEDDING_OUTPUT}_{index}"


def news_monitored(embedding_dim: int) -> list[dict[str, str]]:
    """The monitored columns of a news version: every embedding component, the two text
    descriptors, then the predicted class and its probability."""
    columns = [
        {"name": embedding_column(i), "source": f"output:{EMBEDDING_OUTPUT}:{i}"}
        for i in range(embedding_dim)
    ]
    columns += [
        {"name": N_TOKENS_OUTPUT, "source": f"output:{N_TOKENS_OUTPUT}:0"},
        {"name": OOV_SHARE_OUTPUT, "source": f"output:{OOV_SHARE_OUTPUT}:0"},
        {"name": REFERENCE_PREDICTION_COLUMN, "source": SOURCE_LABEL},
        {"name": REFERENCE_CONFIDENCE_COLUMN, "source": SOURCE_CONFIDENCE},
    ]
    return columns


def news_spec(
    name: str = NEWS_MODEL_NAME, *, classes: Sequence[str], embedding_dim: int
) -> ModelSpec:
    """The spec of a trained news version with these ``classes`` (the data's labels, sorted)."""
    return parse_spec(
        {
            "name": name,
            "task": NEWS_TASK,
            "input": {"kind": "text", "tensor": TEXT_INPUT, "datatype": "BYTES", "shape": [-1]},
            "output": {"tensor": ONNX_OUTPUT_NAME, "classes": list(classes)},
            "monitored": news_monitored(embedding_dim),
            "preprocessing": NEWS_PREPROCESSING,
            "trainable": True,
        }
    )
