"""Parsing of the gateway's answers into the typed values the pages show."""

from __future__ import annotations

import datetime as dt

import pytest

from mlops_frontend.api import (
    DriftVerdict,
    JobStatus,
    MalformedAnswerError,
    ModelCatalog,
    ModelDetail,
    ModelVersion,
    Predictions,
    parse,
)

SPEC = {
    "name": "iris-classifier",
    "task": "iris",
    "input": {
        "kind": "features",
        "tensor": "features",
        "datatype": "FP32",
        "shape": [-1, 4],
        "range": [0, 10],
    },
    "output": {"tensor": "probabilities", "classes": ["setosa", "versicolor", "virginica"]},
    "monitored": [{"name": "sepal_length", "source": "input:0"}],
    "preprocessing": "identity@1",
    "trainable": False,
}


def test_predictions_read_class_names_and_indices() -> None:
    answer = parse(
        Predictions,
        {
            "request_id": "r",
            "model": {"name": "iris-classifier", "version": 3},
            "predictions": [
                {
                    "id": "a",
                    "label": "virginica",
                    "class_index": 2,
                    "confidence": 0.7,
                    "probabilities": [0.1, 0.2, 0.7],
                },
                {"id": "b", "label": 4, "confidence": 0.5, "probabilities": [0.5, 0.5]},
            ],
        },
    )
    assert (answer.model_name, answer.model_version) == ("iris-classifier", "3")
    assert (answer.first.label, answer.first.class_index) == ("virginica", 2)
    # an answer without class_index (the first wave's digits) reads it from a numeric label
    assert (answer.predictions[1].label, answer.predictions[1].class_index) == ("4", 4)


def test_predictions_require_ids_labels_probabilities_and_the_model() -> None:
    with pytest.raises(MalformedAnswerError, match="label"):
        parse(
            Predictions,
            {
                "model": {"name": "d", "version": "1"},
                "predictions": [{"id": "x", "label": True, "confidence": 1.0, "probabilities": []}],
            },
        )
    with pytest.raises(MalformedAnswerError, match="model"):
        parse(Predictions, {"predictions": [{"id": "x", "label": 1}]})
    with pytest.raises(MalformedAnswerError, match="predictions"):
        parse(Predictions, {"model": {"name": "d", "version": "1"}, "predictions": []})
    with pytest.raises(MalformedAnswerError):
        parse(Predictions, [1, 2])


def test_catalog_reads_specs_readiness_and_the_default() -> None:
    catalog = parse(
        ModelCatalog,
        {
            "default": "digits-classifier",
            "models": [
                {"name": "digits-classifier", "version": 2, "ready": True, "trainable": True},
                {
                    "name": "iris-classifier",
                    "version": "1",
                    "ready": False,
                    "reason": "loading",
                    "spec": SPEC,
                    "trainable": False,
                },
                {"name": "odd", "version": None, "ready": True, "spec": {"name": "odd"}},
            ],
        },
    )
    assert catalog.default == "digits-classifier"
    assert [m.name for m in catalog.models] == ["digits-classifier", "iris-classifier", "odd"]
    iris = catalog.find("iris-classifier")
    assert iris is not None
    assert (iris.ready, iris.reason, iris.trainable) == (False, "loading", False)
    assert iris.spec is not None
    assert iris.spec.classes == ["setosa", "versicolor", "virginica"]
    assert iris.spec.input.range == (0.0, 10.0)
    # a spec this frontend cannot read hides only that model's spec
    odd = catalog.find("odd")
    assert odd is not None
    assert odd.spec is None
    assert catalog.find("missing") is None


def test_model_detail_accepts_versions_and_skips_non_numeric_metrics() -> None:
    body = {
        "name": "digits-classifier",
        "versions": [
            {
                "name": "d",
                "version": 2,
                "aliases": ["production"],
                "metrics": {"test_accuracy": 0.9, "note": "x", "b": True},
            },
            {"name": "d", "version": "1", "aliases": ["staging"]},
        ],
        "spec": SPEC,
        "trainable": False,
    }
    detail = parse(ModelDetail, body)
    versions = detail.versions
    assert [v.version for v in versions] == ["2", "1"]
    assert versions[0].metrics == {"test_accuracy": 0.9}
    assert versions[1].aliases == ("staging",)
    production = detail.production()
    assert production is not None
    assert production.version == "2"
    assert detail.trainable is False
    with pytest.raises(MalformedAnswerError):
        parse(ModelVersion, {"name": "d"})


def test_drift_verdict_reads_epoch_and_iso_times_and_per_feature_scores() -> None:
    epoch = parse(DriftVerdict, {"drift_detected": True, "checked_at": 0, "reasons": ["r"]})
    assert epoch.checked_at == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert epoch.reasons == ("r",)
    assert epoch.feature_scores == {}
    assert epoch.feature_test.score_is_p_value  # the drift service's default test
    iso = parse(
        DriftVerdict,
        {
            "checked_at": "2025-01-01T00:00:00",
            "feature_scores": {"pixel_0_1": 0.0001, "pixel_0_2": True, "pixel_0_3": "x"},
            "drifted_features": ["pixel_0_1"],
            "feature_test": {
                "method": "wasserstein",
                "name": "Wasserstein distance (normed)",
                "threshold": 0.1,
                "score_is_p_value": False,
            },
        },
    )
    assert iso.drift_detected is None
    assert iso.checked_at == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert iso.feature_scores == {"pixel_0_1": 0.0001}
    assert iso.drifted_features == ("pixel_0_1",)
    assert (iso.feature_test.method, iso.feature_test.threshold) == ("wasserstein", 0.1)
    assert iso.feature_test.score_is_p_value is False


def test_drift_verdict_reads_the_schedule_when_given() -> None:
    verdict = parse(
        DriftVerdict,
        {"model": "iris", "drift_detected": None, "next_check_at": 60, "interval_s": 300},
    )
    assert verdict.model == "iris"
    assert verdict.next_check_at == dt.datetime(1970, 1, 1, 0, 1, tzinfo=dt.UTC)
    assert verdict.check_interval_s == 300


#: What the retraining task returns: the trainer's PipelineResult.as_dict().
PIPELINE_RESULT = {
    "run_id": "abc123",
    "metrics": {"test_accuracy": 0.95, "test_f1": 0.94},
    "parity": {
        "samples": 360,
        "argmax_mismatches": 0,
        "max_abs_diff": 2e-7,
        "atol": 1e-4,
        "ok": True,
    },
    "data_hash": "0123456789abcdef",
    "version": "7",
    "promoted": False,
    "production_version": "6",
    "production_metrics": {"test_accuracy": 0.97, "test_f1": 0.96},
    "duration_s": 41.5,
}


def test_job_status_progress_and_the_pipeline_result() -> None:
    running = parse(
        JobStatus,
        {"job_id": "j", "state": "progress", "progress": {"stage": "training", "progress": 40}},
    )
    assert (running.state, running.stage, running.progress, running.finished) == (
        "PROGRESS",
        "training",
        0.4,
        False,
    )
    done = parse(JobStatus, {"job_id": "j", "state": "SUCCESS", "result": PIPELINE_RESULT})
    assert done.finished
    assert done.outcome.promoted is False
    assert done.outcome.decision is None
    outcome = done.outcome
    assert (outcome.run_id, outcome.version, outcome.production_version) == ("abc123", "7", "6")
    assert outcome.metrics == {"test_accuracy": 0.95, "test_f1": 0.94}
    assert outcome.production_metrics["test_accuracy"] == 0.97
    assert outcome.parity["ok"] is True
    assert (outcome.data_hash, outcome.duration_s) == ("0123456789abcdef", 41.5)
    explained = {**PIPELINE_RESULT, "reason": "worse", "decision": "kept v6: 0.95 < 0.97"}
    assert (
        parse(JobStatus, {"job_id": "j", "state": "SUCCESS", "result": explained}).outcome.decision
        == "kept v6: 0.95 < 0.97"
    )
    reason_only = {**PIPELINE_RESULT, "reason": "worse"}
    assert (
        parse(
            JobStatus, {"job_id": "j", "state": "SUCCESS", "result": reason_only}
        ).outcome.decision
        == "worse"
    )
    unregistered = {**PIPELINE_RESULT, "version": None, "production_version": None}
    bare = parse(JobStatus, {"job_id": "j", "state": "SUCCESS", "result": unregistered}).outcome
    assert (bare.version, bare.production_version) == (None, None)
    assert parse(JobStatus, {"job_id": "j", "state": "SUCCESS"}).outcome.promoted is None
    skipped = {"skipped": True, "running_job_id": "k", "reason": "not run: k was running"}
    outcome = parse(JobStatus, {"job_id": "j", "state": "SUCCESS", "result": skipped}).outcome
    assert (outcome.skipped, outcome.decision, outcome.promoted) == (
        True,
        "not run: k was running",
        None,
    )
