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
    assert reference.spec.trainable
    assert reference.columns.names[-2:] == ["prediction", "confidence"]
    assert len(reference.columns.features) == 64


def test_a_version_without_reference_is_an_error(
    mlflow_store: Any,
    tmp_path: Path,
    specs,
    helpers,  # type: ignore[no-untyped-def]
) -> None:
    path = write_linear_model(tmp_path / "m.onnx")
    helpers.register_model(mlflow_store.tracking_uri, path, spec=specs.digits())
    source = RegistryReferenceSource(mlflow_store.tracking_uri, MODEL_NAME)
    version = source.production_version()
    assert version is not None
    with pytest.raises(ReferenceError, match=r"reference/features\.csv"):
        source.load(version)


def test_a_version_without_spec_or_with_a_bad_one_is_an_error(
    mlflow_store: Any,
    reference_csv: Path,
    tmp_path: Path,
    specs,
    helpers,  # type: ignore[no-untyped-def]
) -> None:
    path = write_linear_model(tmp_path / "m.onnx")
    other = "other-classifier"
    register_onnx_model(mlflow_store.tracking_uri, path, name=other, reference_csv=reference_csv)
    source = RegistryReferenceSource(mlflow_store.tracking_uri, other)
    version = source.production_version()
    assert version is not None
    with pytest.raises(ReferenceError, match=r"has no model-spec\.json"):
        source.load(version)
    helpers.register_model(
        mlflow_store.tracking_uri,
        path,
        name=other,
        spec='{"name": "x"}',
        reference_csv=reference_csv,
    )
    version = source.production_version()
    assert version is not None
    assert version.version == "2"
    with pytest.raises(ReferenceError, match=r"invalid model-spec\.json.*task"):
        source.load(version)


def test_a_first_wave_digits_version_gets_the_digits_spec(
    mlflow_store: Any, reference_csv: Path, tmp_path: Path, specs
) -> None:  # type: ignore[no-untyped-def]
    """Registered before specs existed (no model-spec.json): monitored as the trainer's digits."""
    path = write_linear_model(tmp_path / "m.onnx")
    register_onnx_model(mlflow_store.tracking_uri, path, reference_csv=reference_csv)
    source = RegistryReferenceSource(mlflow_store.tracking_uri, MODEL_NAME)
    version = source.production_version()
    assert version is not None
    reference = source.load(version)
    assert reference.spec.trainable
    assert reference.spec.monitored_names == [c["name"] for c in specs.digits()["monitored"]]
