"""``INFERENCE_MODELS``: the list of served models, parsed and validated with clear errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops_inference.catalog import ModelConfig, parse_models
from mlops_inference.settings import InferenceSettings


def test_names_and_pairs_parse() -> None:
    models = parse_models(
        " digits-classifier , iris=models:/iris-classifier@staging,toy = /m/toy.onnx,"
        "pinned=models:/x/3"
    )
    assert models == (
        ModelConfig("digits-classifier", "models:/digits-classifier@production"),
        ModelConfig("iris", "models:/iris-classifier@staging"),
        ModelConfig("toy", "/m/toy.onnx"),
        ModelConfig("pinned", "models:/x/3"),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a,,b", "entry 2 is empty"),
        ("a,", "entry 2 is empty"),
        ("=/m.onnx", "entry 1 ('=/m.onnx') has an empty model name"),
        ("a=", "the uri after '=' is empty"),
        ("a,b,a", "names model 'a' more than once"),
        ("a=/x.onnx,a", "names model 'a' more than once"),
        ("my model", "model name 'my model' may hold only"),
        ("a=models:/x", "'models:/x' is not a registry URI"),
        ("a=models:/x@prod/1", "is not a registry URI"),
    ],
)
def test_bad_lists_are_refused_naming_the_entry(value: str, message: str) -> None:
    with pytest.raises(ValueError, match="INFERENCE_MODELS") as caught:
        parse_models(value)
    assert message in str(caught.value)


def test_settings_read_inference_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCE_MODELS", "digits-classifier,iris=/m/iris.onnx")
    assert InferenceSettings().served_models() == (
        ModelConfig("digits-classifier", "models:/digits-classifier@production"),
        ModelConfig("iris", "/m/iris.onnx"),
    )
    monkeypatch.setenv("INFERENCE_MODELS", "a,a")
    with pytest.raises(ValidationError, match="INFERENCE_MODELS names model 'a' more than once"):
        InferenceSettings()


def test_without_inference_models_the_single_model_settings_serve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INFERENCE_MODELS", raising=False)
    monkeypatch.setenv("INFERENCE_MODEL_URI", "/m.onnx")
    monkeypatch.setenv("INFERENCE_MODEL_NAME", "digits")
    assert InferenceSettings().served_models() == (ModelConfig("digits", "/m.onnx"),)
    monkeypatch.setenv("INFERENCE_MODELS", "  ")
    assert InferenceSettings().served_models() == (ModelConfig("digits", "/m.onnx"),)
