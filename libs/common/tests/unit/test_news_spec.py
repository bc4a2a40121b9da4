"""The news spec, and the output-value columns a text model is monitored on."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_common.model_spec import ModelSpecError, parse_spec
from mlops_common.news_spec import NEWS_MODEL_NAME, news_spec

CLASSES = ["business", "entertainment", "politics", "sports", "tech"]


def test_news_spec_logs_its_output_values_in_monitored_order() -> None:
    spec = news_spec(classes=CLASSES, embedding_dim=3)
    assert spec.name == NEWS_MODEL_NAME
    assert spec.input.kind == "text"
    assert spec.input.shape == [-1]
    assert spec.output_values == [("embedding", 0), ("embedding", 1), ("embedding", 2),
                                  ("n_tokens", 0), ("oov_share", 0)]  # fmt: skip
    assert spec.value_outputs == ["embedding", "n_tokens", "oov_share"]
    assert spec.logged_width == 5
    positions = {c.name: spec.logged_position(c) for c in spec.monitored}
    assert positions == {"embedding_0": 0, "embedding_1": 1, "embedding_2": 2, "n_tokens": 3,
                         "oov_share": 4, "prediction": None, "confidence": None}  # fmt: skip
    assert parse_spec(__import__("json").loads(spec.to_json())) == spec


def _text_spec(**changes: Any) -> dict[str, Any]:
    data = news_spec(classes=CLASSES, embedding_dim=2).model_dump(mode="json")
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (
            _text_spec(monitored=[{"name": "p", "source": "output:probabilities:0"}]),
            "monitored.0.source",
            "reads the probabilities",
        ),
        (
            _text_spec(monitored=[{"name": "e", "source": "output:embedding:x"}]),
            "monitored.0.source",
            "unknown source",
        ),
        (
            _text_spec(
                input={"kind": "text", "tensor": "t", "datatype": "BYTES", "shape": [-1, 2]}
            ),
            "input.shape",
            "one string per instance",
        ),
    ],
)
def test_bad_text_specs_name_the_field(data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ModelSpecError) as caught:
        parse_spec(data)
    message = str(caught.value)
    assert f"{field}: " in message, message
    assert words in message, message


def test_output_values_are_monitored_for_text_inputs_only() -> None:
    data = {
        "name": "m",
        "task": "m",
        "input": {"kind": "features", "tensor": "x", "datatype": "FP32", "shape": [-1, 2]},
        "output": {"tensor": "probabilities", "classes": ["a", "b"]},
        "monitored": [{"name": "e0", "source": "output:embedding:0"}],
        "preprocessing": "identity@1",
        "trainable": False,
    }
    with pytest.raises(ModelSpecError, match=r"monitored\.0\.source: .*only a text input"):
        parse_spec(data)
    data["monitored"] = [{"name": "x0", "source": "input:1"}]
    spec = parse_spec(data)
    assert spec.logged_width == 2
    assert spec.logged_position(spec.monitored[0]) == 1
