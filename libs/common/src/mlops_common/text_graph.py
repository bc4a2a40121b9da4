"""The news task's tokenization as ONNX nodes: the one definition of it, inside every version.

Text → ``StringNormalizer`` (lower case, locale ``C.UTF-8``) → ``com.microsoft`` ``Tokenizer``
(runs of Unicode letters and digits, :data:`TOKEN_PATTERN`; rows padded with :data:`PAD`) →
``ai.onnx.ml`` ``LabelEncoder`` (token → vocabulary id; :data:`PAD_ID` for padding,
:data:`OOV_ID` for a token outside the vocabulary; the vocabulary's ids start at
:data:`FIRST_WORD_ID`). The trainer tokenizes its training data by running these nodes under
onnxruntime and merges them into the exported graph, so serving and training cannot disagree and
a version's vocabulary travels with it. Standard onnxruntime ops only: any OIP client can send
raw text. Needs ``onnx`` (the trainer's and the test support's dependency).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import onnx
from onnx import TensorProto, helper

#: A token: a run of Unicode letters and digits (RE2 syntax, as the Tokenizer op reads it).
TOKEN_PATTERN: Final = r"[\pL\pN]+"
#: The padding string the Tokenizer fills short rows with (never a token: not a letter/digit).
PAD: Final = "#"
PAD_ID: Final = 0
OOV_ID: Final = 1
FIRST_WORD_ID: Final = 2
#: The locale StringNormalizer lower-cases in: present on every glibc system and image.
LOCALE: Final = "C.UTF-8"
#: Opsets of the nodes (the ONNX default domain's is the exported network's).
ML_OPSET: Final = 2
MS_OPSET: Final = 1


def opset_imports(default_opset: int) -> list[onnx.OperatorSetIdProto]:
    """The opsets a graph with these nodes imports."""
    return [
        helper.make_opsetid("", default_opset),
        helper.make_opsetid("ai.onnx.ml", ML_OPSET),
        helper.make_opsetid("com.microsoft", MS_OPSET),
    ]


def token_nodes(text: str, tokens: str, prefix: str = "pre_") -> list[onnx.NodeProto]:
    """Nodes turning the string tensor ``text`` ``[N]`` into tokens ``[N, T]`` (padded)."""
    return [
        helper.make_node(
            "StringNormalizer",
            [text],
            [f"{prefix}lower"],
            name=f"{prefix}normalize",
            case_change_action="LOWER",
            is_case_sensitive=1,
            locale=LOCALE,
        ),
        helper.make_node(
            "Tokenizer",
            [f"{prefix}lower"],
            [tokens],
            name=f"{prefix}tokenize",
            domain="com.microsoft",
            mark=0,
            mincharnum=1,
            pad_value=PAD,
            tokenexp=TOKEN_PATTERN,
        ),
    ]


def vocabulary_node(
    tokens: str, ids: str, vocabulary: Sequence[str], prefix: str = "pre_"
) -> onnx.NodeProto:
    """The node mapping tokens ``[N, T]`` to int64 ids ``[N, T]`` with ``vocabulary``."""
    return helper.make_node(
        "LabelEncoder",
        [tokens],
        [ids],
        name=f"{prefix}vocabulary",
        domain="ai.onnx.ml",
        keys_strings=[PAD, *vocabulary],
        values_int64s=[PAD_ID, *range(FIRST_WORD_ID, FIRST_WORD_ID + len(vocabulary))],
        default_int64=OOV_ID,
    )


def tokenizer_model(
    vocabulary: Sequence[str] | None, *, text: str = "text", default_opset: int = 18
) -> onnx.ModelProto:
    """A graph of the preprocessing alone: ``text`` ``[N]`` → ``ids`` int64 ``[N, T]``, or
    ``tokens`` string ``[N, T]`` when ``vocabulary`` is None (to count words for one)."""
    nodes = token_nodes(text, "tokens")
    output = helper.make_tensor_value_info("tokens", TensorProto.STRING, ["N", "T"])
    if vocabulary is not None:
        nodes.append(vocabulary_node("tokens", "ids", vocabulary))
        output = helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", "T"])
    graph = helper.make_graph(
        nodes,
        "news_preprocessing",
        [helper.make_tensor_value_info(text, TensorProto.STRING, ["N"])],
        [output],
    )
    return helper.make_model(graph, opset_imports=opset_imports(default_opset))
