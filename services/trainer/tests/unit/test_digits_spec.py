"""The digits task's spec: what drift monitors today, and the graph the export writes."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from hydra.utils import instantiate
from omegaconf import DictConfig

from mlops_common.digits_spec import DIGITS_PREPROCESSING, digits_spec
from mlops_common.features import FEATURE_NAMES
from mlops_common.model_spec import load_spec
from mlops_common.registry import REFERENCE_CONFIDENCE_COLUMN, REFERENCE_PREDICTION_COLUMN
from mlops_trainer.export import export_onnx
from mlops_trainer.onnx_signature import (
    SignatureError,
    check_matches,
    mlflow_signature,
    read_signature,
)

pytestmark = pytest.mark.unit


def test_the_digits_spec_monitors_what_drift_reads() -> None:
    spec = digits_spec()
    assert spec.name == "digits-classifier"
    assert spec.task == "digits"
    assert spec.preprocessing == DIGITS_PREPROCESSING
    assert spec.input.range == (0.0, 16.0)
    assert spec.classes == [str(digit) for digit in range(10)]
    # The reference CSV's columns: the 64 pixels, then the model's own answer.
    assert spec.monitored_names == [
        *FEATURE_NAMES,
        REFERENCE_PREDICTION_COLUMN,
        REFERENCE_CONFIDENCE_COLUMN,
    ]
    assert [c.input_index for c in spec.monitored[:64]] == list(range(64))
    assert load_spec(spec.to_json()) == spec
    signature = mlflow_signature(spec).to_dict()
    assert '"name": "features"' in signature["inputs"]
    assert '"shape": [-1, 64]' in signature["inputs"]
    assert '"shape": [-1, 10]' in signature["outputs"]


def test_the_spec_matches_the_exported_graph(tmp_path: Path, fast_cfg: DictConfig) -> None:
    model = export_onnx(instantiate(fast_cfg.model), tmp_path / "model.onnx")
    signature = read_signature(model)
    assert (signature.input_tensor, signature.datatype) == ("features", "FP32")
    assert signature.input_shape == [-1, 64]
    assert (signature.output_tensor, signature.output_shape[-1]) == ("probabilities", 10)
    check_matches(digits_spec(), model)

    renamed = onnx.ModelProto()
    renamed.CopyFrom(model)
    renamed.graph.output[0].name = "scores"
    with pytest.raises(SignatureError, match="the spec's output 'probabilities' with 10 classes"):
        check_matches(digits_spec(), renamed)
