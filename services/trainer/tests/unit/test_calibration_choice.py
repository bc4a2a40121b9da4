"""The trainer keeps an isotonic calibration only when it beats the raw confidence out of fold."""

from __future__ import annotations

import numpy as np

from mlops_trainer.calibration import fit_calibration, isotonic_helps


def _probabilities(confidence: np.ndarray, labels: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two-class probabilities answering ``labels`` where ``right`` else the other class."""
    answer = np.where(right, labels, 1 - labels)
    out = np.empty((len(labels), 2), dtype=np.float32)
    out[np.arange(len(labels)), answer] = confidence
    out[np.arange(len(labels)), 1 - answer] = 1 - confidence
    return out


def test_an_overconfident_model_gets_an_isotonic_map() -> None:
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.9, 1.0, size=2000)
    right = rng.uniform(size=2000) < 0.7  # says 95 %, is right 70 %
    assert isotonic_helps(confidence, right.astype(np.float64))
    labels = rng.integers(0, 2, size=2000)
    probs = _probabilities(confidence, labels, right)
    calibration, metrics = fit_calibration(probs[:1000], labels[:1000], probs[1000:], labels[1000:])
    assert calibration.method == "isotonic"
    assert metrics["test_ece_calibrated"] < metrics["test_ece_raw"] / 3
    assert abs(metrics["test_cbpe_accuracy"] - right[1000:].mean()) < 0.03


def test_a_calibrated_model_with_few_errors_keeps_its_raw_confidence() -> None:
    rng = np.random.default_rng(2)
    confidence = rng.uniform(0.97, 1.0, size=180)
    right = rng.uniform(size=180) < confidence  # calibrated already: ~2 errors
    labels = rng.integers(0, 2, size=180)
    probs = _probabilities(confidence, labels, right)
    calibration, metrics = fit_calibration(probs, labels, probs, labels)
    assert calibration.method == "identity"
    assert calibration.apply([0.5, 0.99]).tolist() == [0.5, 0.99]
    assert metrics["test_ece_calibrated"] == metrics["test_ece_raw"]


def test_no_error_at_all_leaves_nothing_to_learn() -> None:
    assert not isotonic_helps(np.full(50, 0.99), np.ones(50))
    assert not isotonic_helps(np.array([0.9, 0.8]), np.array([1.0, 0.0]))
