"""Confidence calibration, ECE and the CBPE accuracy estimate."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from mlops_common.calibration import (
    ConfidenceCalibration,
    expected_accuracy,
    expected_calibration_error,
    from_points,
)


def test_ece_is_zero_when_confidence_is_the_hit_rate_and_large_when_overconfident() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.2, 1.0, 200_000)
    correct = rng.random(confidence.size) < confidence
    assert expected_calibration_error(confidence, correct) < 0.01
    overconfident = np.full(1000, 0.95)
    half_right = np.arange(1000) % 2 == 0
    assert expected_calibration_error(overconfident, half_right) == pytest.approx(0.45)


def test_cbpe_is_the_mean_calibrated_confidence() -> None:
    calibration = from_points([0.5, 1.0], [0.2, 0.8], rows=10)
    assert calibration.apply([0.5, 0.75, 1.0, 0.1]).tolist() == pytest.approx([0.2, 0.5, 0.8, 0.2])
    assert expected_accuracy([0.5, 1.0], calibration) == pytest.approx(0.5)
    assert expected_accuracy([0.5, 1.0]) == pytest.approx(0.75)  # no calibration: raw mean
    with pytest.raises(ValueError, match="no confidences"):
        expected_accuracy([])


def test_a_calibration_round_trips_and_bad_points_are_refused() -> None:
    calibration = from_points([0.3, 0.9], [0.1, 0.95], rows=5, ece_raw=0.2, ece_calibrated=0.05)
    again = ConfidenceCalibration.model_validate_json(calibration.to_json())
    assert again == calibration
    for x, y in (([0.9, 0.3], [0.1, 0.2]), ([0.1], [0.1, 0.2]), ([0.1, 1.5], [0.1, 0.2])):
        with pytest.raises(ValidationError):
            ConfidenceCalibration(x=x, y=y, fitted_rows=1)
