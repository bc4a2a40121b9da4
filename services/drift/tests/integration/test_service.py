"""The whole service over real HTTP: real Redis stream and broker, real MLflow store."""

from __future__ import annotations

import asyncio
import itertools
import re
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
from mlops_common.testing.onnx_models import register_onnx_model, write_linear_model
from mlops_drift.app import create_app
from mlops_drift.settings import DriftSettings

STATUS_KEYS = {
    "drift_detected",
    "drifted_share",
    "window_size",
    "checked_at",
    "reasons",
    "feature_scores",
    "drifted_features",
    "feature_test",
}


def settings_for(redis_url: str, store: Any, port: int, **overrides: Any) -> DriftSettings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "mlflow_tracking_uri": store.tracking_uri,
        "port": port,
        "check_executor": "thread",
        "check_interval_s": 3600,
        "reference_poll_s": 3600,  # first poll at start-up; later changes come as events
        "read_block_ms": 50,
        "window_size": 400,
        "min_window_size": 200,
        "retrain_cooldown_s": 600,
        **overrides,
    }
    return DriftSettings(**values)


def metric(text: str, name: str, labels: str = "") -> float | None:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


async def wait_for(predicate: Any, within_s: float = 30.0) -> None:
    """Poll ``predicate`` (an HTTP probe) until it holds; TimeoutError after ``within_s``."""
    async with asyncio.timeout(within_s):
        for _ in itertools.count():
            if await predicate():
                return
            await asyncio.sleep(0.05)


async def window_has(http: httpx.AsyncClient, rows: int) -> bool:
    text = (await http.get("/metrics")).text
    return metric(text, "drift_window_size") == rows


async def reference_is(http: httpx.AsyncClient, version: str) -> bool:
    text = (await http.get("/metrics")).text
    labels = f'{{name="{MODEL_NAME}",version="{version}"}}'
    return metric(text, "drift_reference_info", labels) == 1.0


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
    app = create_app(settings_for(redis_url, mlflow_store, unused_port))
    async with (
        helpers.serve(app, unused_port) as url,
        httpx.AsyncClient(base_url=url, timeout=120) as http,
    ):
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        await wait_for(lambda: reference_is(http, "1"))
        missing = await http.get("/v1/drift/status")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "no_verdict"
        early = await http.post("/v1/drift/check")
        assert early.status_code == 409
        assert early.json()["error"]["code"] == "window_too_small"

        x, _ = inverted(digits.pool_x, digits.pool_y, 250, np.random.default_rng(0))
        helpers.add_traffic(redis_db, digits.entries(x))
        await wait_for(lambda: window_has(http, 250))

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

        status = (await http.get("/v1/drift/status")).json()
        assert set(status) == STATUS_KEYS
        assert status["drift_detected"] is True
        assert status["reasons"]
        assert len(status["feature_scores"]) == 64
        assert len(status["drifted_features"]) == round(status["drifted_share"] * 64)

        text = (await http.get("/metrics")).text
        assert metric(text, "drift_checks_total") == 3
        assert metric(text, "drift_retrains_queued_total") == 1
        assert metric(text, "drift_dataset_drift") == 1
        assert metric(text, "drift_drifted_feature_share") == pytest.approx(
            status["drifted_share"], abs=1e-6
        )
        assert metric(text, "drift_last_check_timestamp_seconds") == pytest.approx(
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
    helpers,
) -> None:
    settings = settings_for(redis_url, mlflow_store, unused_port, retrain_enabled=False)
    app = create_app(settings)
    async with (
        helpers.serve(app, unused_port) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        await wait_for(lambda: reference_is(http, "1"))
        x, _ = clean(digits.pool_x, digits.pool_y, 220, np.random.default_rng(1))
        helpers.add_traffic(redis_db, digits.entries(x, model_version="1"))
        await wait_for(lambda: window_has(http, 220))
        verdict = (await http.post("/v1/drift/check")).json()
        assert verdict["drift_detected"] is False
        assert verdict["retrain_job_id"] is None

        new = register_onnx_model(
            mlflow_store.tracking_uri,
            write_linear_model(tmp_path / "v2.onnx", seed=1),
            reference_csv=reference_csv,
        )
        redis_db.publish(MODEL_EVENTS_CHANNEL, ModelEvent(MODEL_NAME, new).encode())
        await wait_for(lambda: reference_is(http, "2"), within_s=20)
        await wait_for(lambda: window_has(http, 0))
        # the verdict was about the replaced model
        assert (await http.get("/v1/drift/status")).status_code == 404
        # late answers of the replaced version are ignored, the new version's are kept
        helpers.add_traffic(redis_db, digits.entries(x[:30], model_version="1"))
        helpers.add_traffic(redis_db, digits.entries(x[:20], model_version="2"))
        await wait_for(lambda: window_has(http, 20))
