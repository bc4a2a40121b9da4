"""The whole service over real HTTP: real Redis stream and broker, real MLflow store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from _drift_simulation import clean, inverted

from mlops_common.jobs import RETRAIN_TASK
from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.onnx_models import write_linear_model
from mlops_drift.app import create_app

DIGITS = f'{{model="{MODEL_NAME}"}}'

STATUS_KEYS = {
    "model",
    "drift_detected",
    "drifted_share",
    "window_size",
    "checked_at",
    "reasons",
    "feature_scores",
    "drifted_features",
    "feature_test",
    "estimated_accuracy",
    "reference_estimated_accuracy",
    "estimated_accuracy_drop",
    "calibrated",
}


@pytest.mark.slow
async def test_shifted_traffic_drifts_and_queues_one_retrain(  # type: ignore[no-untyped-def]
    redis_url: str,
    redis_db: redis.Redis,
    mlflow_store: Any,
    production_model: str,
    unused_port: int,
    digits,
    helpers,
) -> None:
    app = create_app(helpers.settings_for(redis_url, mlflow_store, unused_port))
    async with (
        helpers.serve(app, unused_port) as url,
        httpx.AsyncClient(base_url=url, timeout=120, headers=helpers.ADMIN) as http,
    ):
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        await helpers.wait_for(lambda: helpers.reference_is(http, "1"))
        missing = await http.get("/v1/drift/status")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "no_verdict"
        anonymous = await http.post("/v1/drift/check", headers={"X-API-Key": ""})
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthorized"
        refused = await http.post("/v1/drift/check", headers={"X-API-Key": "wrong"})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        early = await http.post("/v1/drift/check")
        assert early.status_code == 409
        assert early.json()["error"]["code"] == "window_too_small"

        x, _ = inverted(digits.pool_x, digits.pool_y, 250, np.random.default_rng(0))
        helpers.add_traffic(redis_db, digits.entries(x))
        await helpers.wait_for(lambda: helpers.window_has(http, 250))

        # the status path answers from memory while a check runs in its worker
        check_task = asyncio.create_task(http.post("/v1/drift/check"))
        await asyncio.sleep(0.05)
        during = await http.get("/v1/drift/status")
        assert during.status_code == 404
        assert not check_task.done()
        first = (await check_task).json()
        assert first["drift_detected"] is True
        assert first["window_size"] == 250
        assert first["drifted_share"] > 0.5
        assert isinstance(first["retrain_job_id"], str)
        for _ in range(2):
            again = (await http.post("/v1/drift/check")).json()
            assert again["drift_detected"] is True
            assert again["retrain_job_id"] is None  # inside the cool-down

        tasks = helpers.queued_tasks(redis_db)
        assert len(tasks) == 1
        name, kwargs = tasks[0]
        assert name == RETRAIN_TASK
        assert "features drifted" in kwargs["reason"]
        assert kwargs["overrides"] == []
        assert kwargs["model"] == MODEL_NAME

        status = (await http.get("/v1/drift/status")).json()
        assert set(status) == STATUS_KEYS
        assert status["model"] == MODEL_NAME
        assert status["drift_detected"] is True
        assert status["reasons"]
        assert len(status["feature_scores"]) == 64
        assert len(status["drifted_features"]) == round(status["drifted_share"] * 64)

        text = (await http.get("/metrics")).text
        assert helpers.metric(text, "drift_checks_total", DIGITS) == 3
        assert helpers.metric(text, "drift_retrains_queued_total", DIGITS) == 1
        assert helpers.metric(text, "drift_dataset_drift", DIGITS) == 1
        assert helpers.metric(text, "drift_drifted_feature_share", DIGITS) == pytest.approx(
            status["drifted_share"], abs=1e-6
        )
        assert helpers.metric(text, "drift_last_check_timestamp_seconds", DIGITS) == pytest.approx(
            status["checked_at"]
        )

        report = await http.get("/v1/drift/report")
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("text/html")
        assert report.text.lstrip().lower().startswith("<!doctype html")
        assert "Dataset Drift" in report.text
        assert "chi-square homogeneity" in report.text  # the label test as configured
        assert "pixel_0_0" in report.text
        assert (await http.get("/v1/drift/report")).text == report.text  # cached


async def test_promotion_event_reloads_the_reference_and_resets_the_window(  # type: ignore[no-untyped-def]
    redis_url: str,
    redis_db: redis.Redis,
    mlflow_store: Any,
    production_model: str,
    reference_csv: Path,
    tmp_path: Path,
    unused_port: int,
    digits,
    specs,
    helpers,
) -> None:
    settings = helpers.settings_for(redis_url, mlflow_store, unused_port, retrain_enabled=False)
    app = create_app(settings)
    async with (
        helpers.serve(app, unused_port) as url,
        httpx.AsyncClient(base_url=url, timeout=60, headers=helpers.ADMIN) as http,
    ):
        await helpers.wait_for(lambda: helpers.reference_is(http, "1"))
        x, _ = clean(digits.pool_x, digits.pool_y, 220, np.random.default_rng(1))
        helpers.add_traffic(redis_db, digits.entries(x, model_version="1"))
        await helpers.wait_for(lambda: helpers.window_has(http, 220))
        verdict = (await http.post("/v1/drift/check")).json()
        assert verdict["drift_detected"] is False
        assert verdict["retrain_job_id"] is None

        new = helpers.register_model(
            mlflow_store.tracking_uri,
            write_linear_model(tmp_path / "v2.onnx", seed=1),
            spec=specs.digits(),
            reference_csv=reference_csv,
        )
        redis_db.publish(MODEL_EVENTS_CHANNEL, ModelEvent(MODEL_NAME, new).encode())
        await helpers.wait_for(lambda: helpers.reference_is(http, "2"), within_s=20)
        await helpers.wait_for(lambda: helpers.window_has(http, 0))
        # the verdict was about the replaced model
        assert (await http.get("/v1/drift/status")).status_code == 404
        # late answers of the replaced version are ignored, the new version's are kept
        helpers.add_traffic(redis_db, digits.entries(x[:30], model_version="1"))
        helpers.add_traffic(redis_db, digits.entries(x[:20], model_version="2"))
        await helpers.wait_for(lambda: helpers.window_has(http, 20))
