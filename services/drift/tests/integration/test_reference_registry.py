"""The reference comes from the production version's run in a real MLflow store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_common.registry import MODEL_NAME
from mlops_common.testing.onnx_models import register_onnx_model, write_linear_model
from mlops_drift.reference import ReferenceError, RegistryReferenceSource


def test_no_registered_model_means_no_version(mlflow_store: Any) -> None:
    source = RegistryReferenceSource(mlflow_store.tracking_uri, MODEL_NAME)
    assert source.production_version() is None


def test_loads_the_production_reference(
    mlflow_store: Any,
    production_model: str,
    reference_csv: Path,
    digits,  # type: ignore[no-untyped-def]
) -> None:
    source = RegistryReferenceSource(mlflow_store.tracking_uri, MODEL_NAME)
    version = source.production_version()
    assert version is not None
    assert version.version == production_model == "1"
    reference = source.load(version)
    assert len(reference) == len(digits.reference)
    assert reference.frame["confidence"].tolist() == pytest.approx(
        digits.reference["confidence"].tolist()
    )


def test_a_version_without_reference_is_an_error(mlflow_store: Any, tmp_path: Path) -> None:
    register_onnx_model(mlflow_store.tracking_uri, write_linear_model(tmp_path / "m.onnx"))
    source = RegistryReferenceSource(mlflow_store.tracking_uri, MODEL_NAME)
    version = source.production_version()
    assert version is not None
    with pytest.raises(ReferenceError, match=r"reference/features\.csv"):
        source.load(version)
