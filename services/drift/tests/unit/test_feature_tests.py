"""Per-feature scores: the verdict names the features that drifted, exactly as Evidently counts."""

from __future__ import annotations

import numpy as np
import pytest
from _drift_simulation import clean

from mlops_common.features import FEATURE_NAMES
from mlops_drift.detector import DriftConfig, DriftInputError, check_drift

#: Pixels of the middle of the grid, where every digit has ink.
SHIFTED = ("pixel_3_3", "pixel_3_4", "pixel_4_3", "pixel_4_4", "pixel_5_4")


def _window_with_dark_centre(digits):  # type: ignore[no-untyped-def]
    x, y = clean(digits.pool_x, digits.pool_y, 300, np.random.default_rng(3))
    window = digits.window(x, y)
    window.loc[:, list(SHIFTED)] = 0.0  # only these columns move
    return window


def test_status_names_the_drifted_features_with_their_scores(digits) -> None:  # type: ignore[no-untyped-def]
    verdict = check_drift(digits.reference, _window_with_dark_centre(digits))
    status = verdict.status()
    scores = status["feature_scores"]
    assert list(scores) == list(FEATURE_NAMES)
    assert set(SHIFTED) <= set(status["drifted_features"])
    assert len(status["drifted_features"]) < 15  # the untouched pixels mostly stay put
    for name in SHIFTED:
        assert scores[name] < 1e-6
    assert status["feature_test"] == {
        "method": "ks",
        "name": "K-S p_value",
        "threshold": 0.001,
        "score_is_p_value": True,
    }
    drifted = {name for name, p in scores.items() if p < 0.001}
    assert drifted == set(status["drifted_features"])
    assert verdict.drifted_features == len(drifted)
    assert verdict.drifted_share == pytest.approx(len(drifted) / 64)
    assert verdict.feature_drift


def test_count_and_share_match_evidentlys_drifted_columns_count(digits) -> None:  # type: ignore[no-untyped-def]
    from evidently import Report
    from evidently.metrics import DriftedColumnsCount

    from mlops_drift.columns import MonitoredColumns
    from mlops_drift.detector import _datasets

    window = _window_with_dark_centre(digits)
    cfg = DriftConfig()
    metric = DriftedColumnsCount(
        columns=list(FEATURE_NAMES),
        method=cfg.feature_method,
        threshold=cfg.feature_threshold,
        drift_share=cfg.feature_share,
    )
    columns = MonitoredColumns.infer(digits.reference).present(window)
    current, reference = _datasets(digits.reference, window, columns)
    counts = Report([metric]).run(current, reference).dict()["metrics"][0]["value"]
    verdict = check_drift(digits.reference, window, cfg)
    assert verdict.drifted_features == int(counts["count"])
    assert verdict.drifted_share == pytest.approx(float(counts["share"]))


def test_a_distance_test_reports_distances(digits) -> None:  # type: ignore[no-untyped-def]
    cfg = DriftConfig(feature_method="wasserstein", feature_threshold=0.1)
    status = check_drift(digits.reference, _window_with_dark_centre(digits), cfg).status()
    assert status["feature_test"]["score_is_p_value"] is False
    assert set(SHIFTED) <= set(status["drifted_features"])
    for name in status["drifted_features"]:
        assert status["feature_scores"][name] >= 0.1


def test_a_column_without_finite_values_is_refused(digits) -> None:  # type: ignore[no-untyped-def]
    window = digits.reference.head(50).copy()
    window["pixel_0_0"] = np.nan
    with pytest.raises(DriftInputError, match="pixel_0_0"):
        check_drift(digits.reference, window)
