"""Fit a version's confidence calibration (isotonic regression on the validation split) and check
it on the test split; see :mod:`mlops_common.calibration` for what it is for.

Isotonic regression fitted on few rows with few errors (a 99 %-accurate model, 180 validation
rows: two errors) is a step function that can calibrate worse than the raw confidence. So the
fit is kept only when it beats the raw confidence out of fold on the validation rows
(:func:`isotonic_helps`: K-fold Brier score); otherwise the version carries the identity map
(``method: "identity"``), and CBPE uses the raw confidence.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.isotonic import IsotonicRegression

from mlops_common.calibration import (
    ConfidenceCalibration,
    expected_accuracy,
    expected_calibration_error,
    from_points,
)

FOLDS = 5


def _brier(predicted: NDArray[np.float64], correct: NDArray[np.float64]) -> float:
    return float(np.mean((predicted - correct) ** 2))


def isotonic_helps(confidence: NDArray[np.float64], correct: NDArray[np.float64]) -> bool:
    """True when isotonic regression, fitted on the other folds, predicts correctness better
    (lower Brier score) than the raw confidence on each held-out fold, summed over the folds."""
    if len(confidence) < 2 * FOLDS or correct.min() == correct.max():
        return False  # too few rows, or no error at all to learn from
    order = np.random.default_rng(0).permutation(len(confidence))
    fitted = raw = 0.0
    for fold in np.array_split(order, FOLDS):
        train = np.setdiff1d(order, fold)
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        model.fit(confidence[train], correct[train])
        fitted += _brier(model.predict(confidence[fold]), correct[fold]) * len(fold)
        raw += _brier(confidence[fold], correct[fold]) * len(fold)
    return fitted < raw


def fit_calibration(
    val_probabilities: NDArray[np.float32],
    val_labels: NDArray[np.int64],
    test_probabilities: NDArray[np.float32],
    test_labels: NDArray[np.int64],
) -> tuple[ConfidenceCalibration, dict[str, float]]:
    """The calibration fitted on the validation rows, and its check on the test rows: ECE
    before/after and the CBPE estimate vs the realised accuracy (MLflow metrics)."""
    confidence = val_probabilities.max(axis=1).astype(np.float64)
    correct = (val_probabilities.argmax(axis=1) == val_labels).astype(np.float64)
    if isotonic_helps(confidence, correct):
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        isotonic.fit(confidence, correct)
        x, y, method = isotonic.X_thresholds_, isotonic.y_thresholds_, "isotonic"
    else:
        x, y, method = [0.0, 1.0], [0.0, 1.0], "identity"
    test_confidence = test_probabilities.max(axis=1)
    test_correct = (test_probabilities.argmax(axis=1) == test_labels).astype(np.float64)
    ece_raw = expected_calibration_error(test_confidence, test_correct)
    unfitted = from_points(x, y, len(val_labels))
    ece_calibrated = expected_calibration_error(unfitted.apply(test_confidence), test_correct)
    calibration = from_points(
        x, y, len(val_labels), ece_raw=ece_raw, ece_calibrated=ece_calibrated
    ).model_copy(update={"method": method})
    metrics = {
        "test_ece_raw": ece_raw,
        "test_ece_calibrated": ece_calibrated,
        "test_cbpe_accuracy": expected_accuracy(test_confidence, calibration),
        "test_cbpe_accuracy_raw": expected_accuracy(test_confidence),
    }
    return calibration, metrics
