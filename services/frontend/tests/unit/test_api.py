"""Parsing of the gateway's answers into the typed values the pages show."""

from __future__ import annotations

import datetime as dt

import pytest

from mlops_frontend.api import (
    DriftVerdict,
    JobStatus,
    MalformedAnswerError,
    ModelVersion,
    Prediction,
    parse_model_list,
)


def test_prediction_requires_ids_labels_and_probabilities() -> None:
    with pytest.raises(MalformedAnswerError, match="label"):
        Prediction.from_json(
            {
                "model": {"name": "d", "version": "1"},
                "predictions": [{"id": "x", "label": True, "probabilities": []}],
            }
        )
    with pytest.raises(MalformedAnswerError, match="model"):
        Prediction.from_json({"predictions": [{"id": "x", "label": 1}]})
    with pytest.raises(MalformedAnswerError):
        Prediction.from_json([1, 2])


def test_model_list_accepts_versions_and_skips_non_numeric_metrics() -> None:
    body = {
        "name": "digits-classifier",
        "versions": [
            {"name": "d", "version": 2, "metrics": {"test_accuracy": 0.9, "note": "x", "b": True}},
            {"name": "d", "version": "1", "aliases": ["staging"]},
        ],
    }
    versions = parse_model_list(body)
    assert [v.version for v in versions] == ["2", "1"]
    assert versions[0].metrics == {"test_accuracy": 0.9}
    assert versions[1].aliases == ("staging",)
    with pytest.raises(MalformedAnswerError):
        ModelVersion.from_json({"name": "d"})


def test_drift_verdict_reads_epoch_and_iso_times_and_feature_scores() -> None:
    epoch = DriftVerdict.from_json({"drift_detected": True, "checked_at": 0, "reasons": ["r"]})
    assert epoch.checked_at == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert epoch.reasons == ("r",)
    iso = DriftVerdict.from_json(
        {
            "checked_at": "2025-01-01T00:00:00",
            "features": [{"name": "pixel_0_1", "p_value": 0.0001}, {"bad": 1}],
        }
    )
    assert iso.drift_detected is None
    assert iso.checked_at == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert iso.feature_scores == {"pixel_0_1": 0.0001}
    mapped = DriftVerdict.from_json({"feature_scores": {"pixel_0_0": {"score": 0.3}}})
    assert mapped.feature_scores == {"pixel_0_0": 0.3}


def test_job_status_progress_result_and_decision() -> None:
    running = JobStatus.from_json(
        {"job_id": "j", "state": "progress", "progress": {"stage": "training", "progress": 40}}
    )
    assert (running.state, running.stage, running.progress, running.finished) == (
        "PROGRESS",
        "training",
        0.4,
        False,
    )
    done = JobStatus.from_json(
        {"job_id": "j", "state": "SUCCESS", "result": {"promoted": False, "reason": "worse"}}
    )
    assert done.finished
    assert done.promoted is False
    assert done.decision == "worse"
    assert JobStatus.from_json({"job_id": "j", "state": "SUCCESS"}).promoted is None
