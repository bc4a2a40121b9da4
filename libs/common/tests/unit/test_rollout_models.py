"""The rollout tests' models answer as they are told to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from mlops_common.testing.rollout_models import (
    write_constant_model,
    write_failing_model,
    write_lookup_model,
)


def _run(path: Path, rows: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"features": rows.astype(np.float32)})[0])


def test_the_constant_model_answers_one_class(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).uniform(0, 16, size=(5, 64))
    out = _run(write_constant_model(tmp_path / "c.onnx", label=3), rows)
    assert out.shape == (5, 10)
    assert (out.argmax(axis=1) == 3).all()
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_the_lookup_model_answers_the_label_of_the_nearest_known_row(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    known = rng.integers(0, 17, size=(50, 64)).astype(np.float32)
    labels = rng.integers(0, 10, size=50)
    path = write_lookup_model(tmp_path / "l.onnx", known, labels, confidence=0.9)
    out = _run(path, known + rng.normal(0, 0.1, size=known.shape))
    assert (out.argmax(axis=1) == labels).all()
    assert np.allclose(out.max(axis=1), 0.9, atol=1e-6)


def test_the_failing_model_warms_up_on_zeros_and_fails_on_digits(tmp_path: Path) -> None:
    path = write_failing_model(tmp_path / "f.onnx")
    assert _run(path, np.zeros((3, 64))).shape == (3, 10)
    with pytest.raises(Exception, match=r"out of bounds|indices"):
        _run(path, np.full((1, 64), 16.0))
