"""The retraining worker's pure parts: settings, feedback split, decision text, task wiring."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client.exposition import generate_latest
from pydantic import ValidationError

from mlops_common.jobs import RETRAIN_TASK
from mlops_trainer.data import ExtraRows, add_rows
from mlops_trainer.feedback import LabelledRow, assign_part, split_rows
from mlops_trainer.pipeline import PipelineResult
from mlops_trainer.recipes import builtin_recipe, recipe_for_task
from mlops_trainer.retrain import explain, job_overrides
from mlops_trainer.settings import TrainerSettings
from mlops_trainer.tasks import _check_arguments, _check_model, _outcome, overall_progress
from mlops_trainer.worker import app, celery_config
from mlops_trainer.worker_metrics import WorkerMetrics


def test_retrain_overrides_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINER_RETRAIN_OVERRIDES", "trainer=fast  model=tiny")
    assert TrainerSettings().retrain_overrides == ["trainer=fast", "model=tiny"]
    monkeypatch.setenv("TRAINER_RETRAIN_OVERRIDES", '["seed=1", "optimizer.lr=0.01"]')
    settings = TrainerSettings()
    assert settings.retrain_overrides == ["seed=1", "optimizer.lr=0.01"]
    assert job_overrides(settings, ["seed=2"]) == [
        "trainer.enable_progress_bar=false", "seed=1", "optimizer.lr=0.01", "seed=2",
    ]  # fmt: skip


def test_time_limits_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="must exceed"):
        TrainerSettings(retrain_soft_time_limit_s=100, retrain_time_limit_s=50)
    settings = TrainerSettings(retrain_soft_time_limit_s=100, retrain_time_limit_s=120)
    assert (
        settings.visibility_timeout_s == 720
    )  # hard limit + 10 min: a live job is not redelivered


def test_celery_config_and_task_options() -> None:
    settings = TrainerSettings(
        redis_url="redis://example:1/2", retrain_soft_time_limit_s=10, retrain_time_limit_s=20
    )
    conf = celery_config(settings)
    assert conf["broker_url"] == conf["result_backend"] == "redis://example:1/2"
    assert (conf["task_soft_time_limit"], conf["task_time_limit"]) == (10, 20)
    assert conf["worker_prefetch_multiplier"] == conf["worker_concurrency"] == 1
    task = app.tasks[RETRAIN_TASK]
    assert task.acks_late
    assert task.reject_on_worker_lost
    assert task.track_started


def test_task_arguments_are_checked() -> None:
    assert _check_arguments("drift", None) == []
    assert _check_arguments("drift", ["seed=1"]) == ["seed=1"]
    with pytest.raises(TypeError, match="list of strings"):
        _check_arguments("drift", "seed=1")
    with pytest.raises(TypeError, match="reason"):
        _check_arguments(3, [])


def test_overall_progress_is_monotonic() -> None:
    stages = [("data", 0.0), ("train", 0.5), ("train", 1.0), ("evaluate", 0.0), ("export", 0.0)]
    stages += [("parity", 0.0), ("register", 0.0), ("promote", 0.0), ("done", 1.0)]
    values = [overall_progress(stage, p) for stage, p in stages]
    assert values == sorted(values)
    assert values[0] == 0.0
    assert values[-1] == 1.0


def test_feedback_parts_are_stable_and_sized() -> None:
    ids = [f"id-{i}" for i in range(4000)]
    parts = [assign_part(i, 0.3, 0.1) for i in ids]
    assert parts == [assign_part(i, 0.3, 0.1) for i in ids]  # same id, same part, every job
    assert 0.27 < parts.count("test") / len(ids) < 0.33
    assert 0.08 < parts.count("val") / len(ids) < 0.12
    rows = [LabelledRow(i, np.full(64, 3, np.float32), 7, 0.0) for i in ids[:100]]
    extra = split_rows(rows, test_fraction=0.3, val_fraction=0.1, repeat=3)
    n_train = sum(p == "train" for p in parts[:100])
    assert extra.sizes["train"] == 3 * n_train
    assert extra.sizes["val"] + extra.sizes["test"] == 100 - n_train
    assert set(extra.test[1]) == {7}


def test_add_rows_appends_and_rehashes(digits_split) -> None:  # type: ignore[no-untyped-def]
    split, manifest = digits_split
    x = np.ones((5, 64), np.float32)
    y = np.arange(5, dtype=np.int64)
    empty = (np.empty((0, 64), np.float32), np.empty(0, np.int64))
    merged, described = add_rows(split, manifest, ExtraRows(train=(x, y), val=empty, test=(x, y)))
    assert len(merged.y_train) == len(split.y_train) + 5
    assert len(merged.y_test) == len(split.y_test) + 5
    assert np.array_equal(merged.x_test[-5:], x)
    assert described.content_hash != manifest.content_hash
    assert described.extra["feedback"] == {"train": 5, "val": 0, "test": 5}
    assert described.source == "digits+feedback"


def _result(promoted: bool, production: str | None = "1") -> PipelineResult:
    return PipelineResult(
        run_id="r",
        metrics={"test_accuracy": 0.9, "feedback_test_accuracy": 0.8},
        parity={},
        data_hash="h",
        version="2",
        promoted=promoted,
        production_version=production,
        production_metrics={"test_accuracy": 0.7, "feedback_test_accuracy": 0.1}
        if production
        else {},
    )


def test_decision_explains_itself() -> None:
    promoted = explain(_result(True), margin=0.01, promote=True, feedback_test=30)
    assert promoted.startswith("promoted v2 over v1")
    assert "0.9000 >= production 0.7000 + margin 0.01" in promoted
    assert "30 held-out feedback-labelled rows" in promoted
    assert "0.8000 vs 0.1000" in promoted
    kept = explain(_result(False), margin=0.5, promote=True, feedback_test=0)
    assert kept.startswith("kept production v1; v2 stays staging")
    assert "<" in kept
    first = explain(_result(True, None), margin=0, promote=True, feedback_test=0)
    assert "no production model" in first
    off = explain(_result(False), margin=0, promote=False, feedback_test=0)
    assert "promotion is off" in off
    staged = _result(False)
    staged.awaiting_live = True
    waiting = explain(staged, margin=0, promote=True, feedback_test=0)
    assert waiting.startswith("v2 staged for shadow evaluation beside production v1")
    assert "0.9000 >= production 0.7000" in waiting


def test_the_model_argument_is_a_model_name() -> None:
    assert _check_model("iris-classifier") == "iris-classifier"
    with pytest.raises(TypeError, match="model must be a string"):
        _check_model(["digits-classifier"])
    for bad in ("", "../etc", "a b", "-x", "x" * 101):
        with pytest.raises(ValueError, match="is not a model name"):
            _check_model(bad)


def test_a_refused_job_counts_as_refused() -> None:
    assert _outcome({"skipped": True, "refused": "not_trainable"}) == "refused"
    assert _outcome({"promoted": True}) == "promoted"
    assert _outcome({"promoted": False}) == "rejected"
    assert _outcome({"awaiting_live": True, "promoted": False}) == "staged"


def test_digits_is_the_one_recipe() -> None:
    digits = recipe_for_task("digits")
    assert digits is not None
    assert builtin_recipe("digits-classifier") is digits
    assert digits.spec("digits-classifier").trainable
    assert recipe_for_task("iris-classifier") is None
    assert builtin_recipe("iris-classifier") is None


def test_worker_metrics_count_outcomes() -> None:
    metrics = WorkerMetrics()
    with metrics.job():
        assert metrics.running._value.get() == 1  # type: ignore[attr-defined]
    metrics.finished("promoted")
    with pytest.raises(ValueError, match="unknown outcome"):
        metrics.finished("skipped")
    text = generate_latest(metrics.registry).decode()
    assert 'retrain_jobs_total{outcome="promoted"} 1.0' in text
    assert 'retrain_jobs_total{outcome="failed"} 0.0' in text
    assert 'retrain_jobs_total{outcome="refused"} 0.0' in text
    assert "retrain_job_duration_seconds_count 1.0" in text
    assert "retrain_job_running 0.0" in text
