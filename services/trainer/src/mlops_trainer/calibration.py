"""Fit a version's confidence calibration (isotonic regression on the validation split) and check
it on the test split; see :mod:`mlops_common.calibration` for what it is for."""

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


def fit_calibration(
    val_probabilities: NDArray[np.float32],
    val_labels: NDArray[np.int64],
    test_probabilities: NDArray[np.float32],
    test_labels: NDArray[np.int64],
) -> tuple[ConfidenceCalibration, dict[str, float]]:
    """The calibration fitted on the validation rows, and its check on the test rows: ECE
    before/after and the CBPE estimate vs the realised accuracy (MLflow metrics)."""
    confidence = val_probabilities.max(axis=1)
    correct = (val_probabilities.argmax(axis=1) == val_labels).astype(np.float64)
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    isotonic.fit(confidence, correct)
    test_confidence = test_probabilities.max(axis=1)
    test_correct = (test_probabilities.argmax(axis=1) == test_labels).astype(np.float64)
    ece_raw = expected_calibration_error(test_confidence, test_correct)
    unfitted = from_points(isotonic.X_thresholds_, isotonic.y_thresholds_, len(val_labels))
    ece_calibrated = expected_calibration_error(unfitted.apply(test_confidence), test_correct)
    calibration = from_points(
        isotonic.X_thresholds_,
        isotonic.y_thresholds_,
        len(val_labels),
        ece_raw=ece_raw,
        ece_calibrated=ece_calibrated,
    )
    metrics = {
        "test_ece_raw": ece_raw,
        "test_ece_calibrated": ece_calibrated,
        "test_cbpe_accuracy": expected_accuracy(test_confidence, calibration),
        "test_cbpe_accuracy_raw": expected_accuracy(test_confidence),
    }
    return calibration, metrics
