"""Fixtures of the inference tests: small ONNX models written on the fly (no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_common.testing.onnx_models import write_broken_model, write_linear_model


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``linear.onnx`` (seed 0), ``linear-1.onnx`` (seed 1) and ``broken.onnx``."""
    root = tmp_path_factory.mktemp("models")
    write_linear_model(root / "linear.onnx", seed=0)
    write_linear_model(root / "linear-1.onnx", seed=1)
    write_broken_model(root / "broken.onnx")
    return root


@pytest.fixture(scope="session")
def linear_model(models_dir: Path) -> Path:
    """Path of a valid linear model of the contract."""
    return models_dir / "linear.onnx"
