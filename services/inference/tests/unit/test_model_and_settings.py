"""Loading ONNX models, parsing model URIs, and reading settings from the environment."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mlops_inference.errors import ModelLoadError
from mlops_inference.model import load_model
from mlops_inference.settings import InferenceSettings, available_cpus
from mlops_inference.source import ModelSource, RegistryRef, file_version, parse_registry_uri

NAME = "digits-classifier"


def _load(path: Path, tmp_path: Path) -> object:
    return load_model(ModelSource(str(path), "", tmp_path), "digits-classifier", threads=1)


def test_a_file_model_loads_with_its_specs_and_content_version(
    linear_model: Path, tmp_path: Path
) -> None:
    model = load_model(ModelSource(str(linear_model), "", tmp_path), "digits-classifier", threads=1)
    assert model.version == file_version(linear_model)
    assert [(s.name, s.datatype, s.shape) for s in model.inputs] == [("features", "FP32", (-1, 64))]
    assert [(s.name, s.datatype, s.shape) for s in model.outputs] == [
        ("probabilities", "FP32", (-1, 10))
    ]
    out = model.predict({"features": np.full((3, 64), 8.0, np.float32)})["probabilities"]
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_a_broken_or_missing_model_raises_a_load_error(models_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="onnxruntime refused"):
        _load(models_dir / "broken.onnx", tmp_path)
    with pytest.raises(ModelLoadError, match="does not exist"):
        _load(tmp_path / "nowhere.onnx", tmp_path)


def test_a_folder_holding_one_onnx_file_loads(linear_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(linear_model, folder / "model.onnx")
    assert _load(folder, tmp_path).version == file_version(linear_model)  # type: ignore[attr-defined]
    assert ModelSource(str(folder), "", tmp_path).current_version() == file_version(linear_model)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/digits-classifier@production", RegistryRef(NAME, "production", None)),
        ("models:/digits-classifier/3", RegistryRef(NAME, None, "3")),
        ("/models/model.onnx", None),
        ("models:/", None),
    ],
)
def test_model_uris_parse(uri: str, expected: RegistryRef | None) -> None:
    assert parse_registry_uri(uri) == expected


def test_settings_read_the_contract_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCE_MODEL_URI", "/m.onnx")
    monkeypatch.setenv("INFERENCE_MODEL_NAME", "digits")
    monkeypatch.setenv("INFERENCE_PORT", "9001")
    monkeypatch.setenv("INFERENCE_METRICS_PORT", "9002")
    monkeypatch.setenv("INFERENCE_MAX_BATCH_SIZE", "16")
    monkeypatch.setenv("INFERENCE_BATCHING", "off")
    monkeypatch.setenv("REDIS_URL", "redis://r:1/0")
    settings = InferenceSettings()
    assert (settings.model_uri, settings.model_name) == ("/m.onnx", "digits")
    assert (settings.port, settings.metrics_port, settings.max_batch_size) == (9001, 9002, 16)
    assert settings.batching is False
    assert settings.redis_url == "redis://r:1/0"
    assert settings.cpu_threads() == available_cpus()
    monkeypatch.setenv("INFERENCE_INTRA_OP_THREADS", "3")
    assert InferenceSettings().cpu_threads() == 3
    monkeypatch.setenv("INFERENCE_BATCHING", "on")
    assert InferenceSettings().batching is True


def test_defaults_serve_the_production_alias() -> None:
    settings = InferenceSettings()
    assert settings.model_uri == "models:/digits-classifier@production"
    assert (settings.port, settings.metrics_port) == (8001, 8002)
