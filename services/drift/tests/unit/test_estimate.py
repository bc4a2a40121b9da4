"""The accuracy estimate of a window (CBPE) and the retrain policy's decision."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlops_common.calibration import from_points
from mlops_drift.estimate import (
    NO_ESTIMATE,
    PerformanceEstimate,
    RetrainPolicy,
    RetrainRule,
    decide_retrain,
    estimate_performance,
)
from mlops_drift.settings import DriftSettings

#: P(correct) is 0.5 at confidence 0.5, 0.9 at confidence 1 (overconfident model).
CALIBRATION = from_points([0.5, 1.0], [0.5, 0.9], rows=100)
DRIFT = ("3 of 64 features drifted",)


def estimate(window: float, reference: float | None = 0.95) -> PerformanceEstimate:
    return PerformanceEstimate(window, reference, calibrated=True)


def test_the_estimate_is_the_mean_calibrated_confidence_and_the_reference_its_baseline() -> None:
    found = estimate_performance([1.0, 0.75, 0.5], np.full(10, 1.0), CALIBRATION)
    assert found.estimated_accuracy == pytest.approx((0.9 + 0.7 + 0.5) / 3)
    assert found.reference_estimated_accuracy == pytest.approx(0.9)
    assert found.drop == pytest.approx(0.9 - 0.7)
    assert found.calibrated is True
    assert found.public() == {
        "estimated_accuracy": pytest.approx(0.7),
        "reference_estimated_accuracy": pytest.approx(0.9),
        "estimated_accuracy_drop": pytest.approx(0.2),
        "calibrated": True,
    }


def test_without_a_calibration_the_raw_confidences_are_used() -> None:
    found = estimate_performance([1.0, 0.5], [1.0, 1.0], None)
    assert found.estimated_accuracy == pytest.approx(0.75)
    assert found.drop == pytest.approx(0.25)
    assert found.public()["calibrated"] is False


def test_without_reference_confidences_there_is_no_baseline_nor_drop() -> None:
    found = estimate_performance([0.9, 0.8], None, CALIBRATION)
    assert found.reference_estimated_accuracy is None
    assert found.drop is None
    assert found.public()["estimated_accuracy_drop"] is None
    assert set(found.public()) == set(NO_ESTIMATE)


def test_an_empty_window_has_no_estimate() -> None:
    with pytest.raises(ValueError, match="no confidences"):
        estimate_performance([], [0.9], CALIBRATION)


@pytest.mark.parametrize(
    ("policy", "drift", "window", "retrains"),
    [
        # drift: the verdict alone, whatever the estimate
        (RetrainPolicy.DRIFT, True, 0.95, True),
        (RetrainPolicy.DRIFT, False, 0.50, False),
        # estimate: only a drop of at least DRIFT_ESTIMATE_DROP (0.05)
        (RetrainPolicy.ESTIMATE, False, 0.89, True),
        (RetrainPolicy.ESTIMATE, True, 0.93, False),
        (RetrainPolicy.ESTIMATE, True, 0.97, False),
        # harmful_drift: that drop, or drift with a drop of at least 0.01
        (RetrainPolicy.HARMFUL_DRIFT, False, 0.89, True),
        (RetrainPolicy.HARMFUL_DRIFT, False, 0.93, False),
        (RetrainPolicy.HARMFUL_DRIFT, True, 0.93, True),
        (RetrainPolicy.HARMFUL_DRIFT, True, 0.945, False),
        (RetrainPolicy.HARMFUL_DRIFT, True, 0.97, False),
    ],
)
def test_each_policy_retrains_on_what_it_names(
    policy: RetrainPolicy, drift: bool, window: float, retrains: bool
) -> None:
    decision = decide_retrain(
        RetrainRule(policy, drop=0.05, min_drop_with_drift=0.01),
        drift,
        DRIFT if drift else (),
        estimate(window),
    )
    assert (decision.reason is not None) is retrains
    if drift and not retrains:  # drift held back: the note says why
        assert decision.note is not None
        assert f"policy {policy}" in decision.note
    if not drift:
        assert decision.note is None


def test_a_reason_names_both_accuracies_the_drop_and_the_drift() -> None:
    rule = RetrainRule(RetrainPolicy.HARMFUL_DRIFT, drop=0.05, min_drop_with_drift=0.01)
    alone = decide_retrain(rule, False, (), estimate(0.80)).reason
    assert alone == (
        "estimated accuracy (calibrated CBPE) fell from 0.950 to 0.800 (drop 0.150 ≥ 0.05)"
    )
    both = decide_retrain(rule, True, DRIFT, estimate(0.93)).reason
    assert both is not None
    assert both.startswith(DRIFT[0])
    assert "from 0.950 to 0.930 (drop 0.020 ≥ 0.01)" in both


def test_without_an_estimate_harmful_drift_falls_back_to_drift_and_estimate_holds() -> None:
    none = PerformanceEstimate(0.9, None, calibrated=False)
    for missing in (None, none):
        harmful = RetrainRule(RetrainPolicy.HARMFUL_DRIFT)
        assert decide_retrain(harmful, True, DRIFT, missing).reason == DRIFT[0]
        decision = decide_retrain(RetrainRule(RetrainPolicy.ESTIMATE), True, DRIFT, missing)
        assert decision.reason is None
        assert decision.note is not None
        assert "no accuracy estimate" in decision.note


def test_a_nan_drop_never_retrains_under_estimate() -> None:
    rule = RetrainRule(RetrainPolicy.ESTIMATE)
    assert decide_retrain(rule, False, (), estimate(math.nan)).reason is None


def test_the_settings_read_the_policy_and_its_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DriftSettings().retrain_rule() == RetrainRule()
    monkeypatch.setenv("DRIFT_RETRAIN_POLICY", "harmful_drift")
    monkeypatch.setenv("DRIFT_ESTIMATE_DROP", "0.08")
    monkeypatch.setenv("DRIFT_ESTIMATE_MIN_DROP_WITH_DRIFT", "0.02")
    assert DriftSettings().retrain_rule() == RetrainRule(RetrainPolicy.HARMFUL_DRIFT, 0.08, 0.02)
    monkeypatch.setenv("DRIFT_RETRAIN_POLICY", "sometimes")
    with pytest.raises(ValueError, match="retrain_policy"):
        DriftSettings()
