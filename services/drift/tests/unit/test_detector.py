"""The verdict on clean and shifted windows, its shape, and its input checks."""

from __future__ import annotations

import numpy as np
import pytest
from _drift_simulation import blended, class_prior, clean, inverted

from mlops_common.model_spec import parse_spec
from mlops_drift.columns import MonitoredColumns
from mlops_drift.detector import DriftConfig, DriftInputError, check_drift, render_report

STATUS_SUMMARY = (
    "model",
    "drift_detected",
    "drifted_share",
    "window_size",
    "checked_at",
    "reasons",
)


def test_clean_window_is_not_drift(digits) -> None:  # type: ignore[no-untyped-def]
    x, y = clean(digits.pool_x, digits.pool_y, 200, np.random.default_rng(0))
    verdict = check_drift(digits.reference, digits.window(x, y), checked_at=123.0)
    assert not verdict.drift_detected
    assert verdict.reasons == ()
    assert verdict.window_size == 200
    status = verdict.status()
    assert {key: status[key] for key in STATUS_SUMMARY} == {
        "model": None,
        "drift_detected": False,
        "drifted_share": verdict.drifted_share,
        "window_size": 200,
        "checked_at": 123.0,
        "reasons": [],
    }
    assert len(status["feature_scores"]) == 64
    assert len(status["drifted_features"]) == verdict.drifted_features < 4


def test_inverted_window_is_feature_drift(digits) -> None:  # type: ignore[no-untyped-def]
    x, y = inverted(digits.pool_x, digits.pool_y, 200, np.random.default_rng(0))
    verdict = check_drift(digits.reference, digits.window(x, y))
    assert verdict.drift_detected
    assert verdict.feature_drift
    assert verdict.drifted_share > 0.5
    assert any("features drifted" in reason for reason in verdict.reasons)


def test_class_prior_change_is_label_drift(digits) -> None:  # type: ignore[no-untyped-def]
    x, y = class_prior(digits.pool_x, digits.pool_y, 400, np.random.default_rng(0))
    verdict = check_drift(digits.reference, digits.window(x, y))
    assert verdict.label_drift
    assert any("predicted-label" in reason for reason in verdict.reasons)


def test_confidence_drift_needs_a_real_change(digits) -> None:  # type: ignore[no-untyped-def]
    x, y = blended(digits.pool_x, digits.pool_y, 200, np.random.default_rng(0))
    window = digits.window(x, y)
    verdict = check_drift(digits.reference, window)
    assert verdict.confidence_drift
    assert verdict.window_confidence < verdict.reference_confidence - 0.02
    lenient = check_drift(digits.reference, window, DriftConfig(min_confidence_shift=0.9))
    assert not lenient.confidence_drift


def test_missing_columns_and_rows_are_refused(digits) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DriftInputError, match="window lacks 1 column"):
        check_drift(digits.reference, digits.reference.drop(columns=["confidence"]))
    with pytest.raises(DriftInputError, match="at least 2"):
        check_drift(digits.reference, digits.reference.head(1))


def test_a_four_feature_model_drifts_on_its_own_columns(flowers, specs) -> None:  # type: ignore[no-untyped-def]
    columns = MonitoredColumns.from_spec(parse_spec(specs.flowers()))
    clean_verdict = check_drift(
        flowers.reference, flowers.frame(flowers.pool[:250]), columns=columns
    )
    assert not clean_verdict.drift_detected
    assert list(clean_verdict.status()["feature_scores"]) == list(specs.flower_columns)
    verdict = check_drift(flowers.reference, flowers.frame(flowers.shifted(250)), columns=columns)
    assert verdict.drift_detected
    assert verdict.features.drifted == ("petal_length", "petal_width")
    assert verdict.drifted_share == 0.5
    assert "2 of 4 features drifted" in verdict.reasons[0]


def test_a_test_the_reference_cannot_take_is_skipped_with_a_note(flowers, specs) -> None:  # type: ignore[no-untyped-def]
    columns = MonitoredColumns.from_spec(parse_spec(specs.flowers()))
    inputs_only = flowers.reference.drop(columns=["prediction", "confidence"])
    verdict = check_drift(inputs_only, flowers.frame(flowers.shifted(250)), columns=columns)
    assert verdict.feature_drift
    assert not verdict.label_drift
    assert not verdict.confidence_drift
    reasons = verdict.status()["reasons"]
    assert reasons[1:] == [
        "predicted-label test skipped: the reference has no 'prediction' column",
        "confidence test skipped: the reference has no 'confidence' column",
    ]
    report = render_report(inputs_only, flowers.frame(flowers.pool[:100]), columns=columns)
    assert "petal_width" in report
