"""``model-spec.json`` against the ONNX graph's tensors: every mismatch is named."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlops_common.model_spec import parse_spec
from mlops_inference.errors import ModelLoadError
from mlops_inference.model import TensorSpec
from mlops_inference.spec_check import check_spec, spec_problems

F32 = np.dtype(np.float32)
INPUTS = (TensorSpec("input", "FP32", F32, (-1, 4)),)
OUTPUTS = (TensorSpec("scores", "FP32", F32, (-1, 3)),)


def _spec(input_changes: dict[str, Any] | None = None, classes: int = 3) -> Any:
    return parse_spec(
        {
            "name": "iris",
            "task": "iris",
            "input": {"kind": "features", "tensor": "input", "datatype": "FP32", "shape": [-1, 4]}
            | (input_changes or {}),
            "output": {"tensor": "scores", "classes": [f"c{i}" for i in range(classes)]},
            "preprocessing": "identity@1",
            "trainable": False,
        }
    )


def test_a_fitting_spec_has_no_problems() -> None:
    assert spec_problems(_spec(), INPUTS, OUTPUTS) == []
    check_spec(_spec(), INPUTS, OUTPUTS, "iris")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (_spec({"tensor": "features"}), "input.tensor 'features' is not an input"),
        (_spec({"datatype": "FP64"}), "input.datatype is FP64 but the graph's 'input' is FP32"),
        (_spec({"shape": [-1, 5]}), "input.shape [-1, 5] does not fit the graph's 'input' shape"),
        (_spec(classes=4), "output.classes names 4 classes but the graph's 'scores' has 3"),
    ],
)
def test_a_mismatch_is_refused_naming_the_field(spec: Any, problem: str) -> None:
    with pytest.raises(
        ModelLoadError, match=r"model-spec\.json of iris v1 does not match"
    ) as caught:
        check_spec(spec, INPUTS, OUTPUTS, "iris v1")
    assert problem in str(caught.value)


def test_a_text_spec_fits_a_string_graph_input_and_its_value_outputs() -> None:
    from mlops_common.testing.news import EMBEDDING_DIM, news_test_spec

    obj = np.dtype(object)
    inputs = (TensorSpec("text", "BYTES", obj, (-1,)),)
    outputs = (
        TensorSpec("probabilities", "FP32", F32, (-1, 5)),
        TensorSpec("embedding", "FP32", F32, (-1, EMBEDDING_DIM)),
        TensorSpec("n_tokens", "FP32", F32, (-1,)),
        TensorSpec("oov_share", "FP32", F32, (-1,)),
    )
    spec = news_test_spec()
    assert spec_problems(spec, inputs, outputs) == []
    narrow = (*outputs[:1], TensorSpec("embedding", "FP32", F32, (-1, 2)), *outputs[2:3])
    problems = spec_problems(spec, inputs, narrow)
    assert "monitored source 'output:embedding:2' is past the 2 values per instance" in problems[0]
    assert any("'oov_share', not an output of the graph" in p for p in problems)
    numeric = (TensorSpec("text", "FP32", F32, (-1,)),)
    assert "input.datatype is BYTES but the graph's 'text' is FP32" in spec_problems(
        spec, numeric, outputs
    )
