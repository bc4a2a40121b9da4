"""The accuracy estimate over real HTTP, Redis and MLflow: the status carries it, and the retrain
policy acts on it (a drop retrains; drift the model is confident through does not, under
``estimate``)."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
import redis
from _drift_simulation import inverted
from mlflow import MlflowClient
from sklearn.isotonic import IsotonicRegression

from mlops_common.calibration import CALIBRATION_ARTIFACT, from_points
from mlops_common.registry import MODEL_NAME
from mlops_drift.app import create_app

DIGITS = f'{{model="{MODEL_NAME}"}}'
ESTIMATE_KEYS = {
    "estimated_accuracy",
    "reference_estimated_accuracy",
    "estimated_accuracy_drop",
    "calibrated",
}


def log_calibration(tracking_uri: str, version: str, digits: Any) -> None:
    """Fit the digits model's calibration on its reference rows and log it with ``version``."""
    reference = digits.reference
    hit = (reference["prediction"] == reference["label"]).to_numpy(dtype=float)
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    isotonic.fit(reference["confidence"], hit)
    calibration = from_points(isotonic.X_thresholds_, isotonic.y_thresholds_, len(reference))
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    run_id = client.get_model_version(MODEL_NAME, version).run_id
    assert run_id is not None
    client.log_text(run_id, calibration.to_json(), CALIBRATION_ARTIFACT)


async def check_window(http: httpx.AsyncClient, helpers: Any, redis_db: Any, entries: Any) -> Any:
    await helpers.wait_for(lambda: helpers.reference_is(http, "1"))
    helpers.add_traffic(redis_db, entries)
    await helpers.wait_for(lambda: helpers.window_has(http, len(entries)))
    answer = await http.post("/v1/drift/check")
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["estimate", "harmful_drift"])
async def test_an_estimated_drop_queues_a_retrain_naming_both_accuracies(  # type: ignore[no-untyped-def]
    policy: str,
    redis_url: str,
    redis_db: redis.Redis,
    mlflow_store: Any,
    production_model: str,
    unused_port: int,
    digits,
    helpers,
) -> None:
    log_calibration(mlflow_store.tracking_uri, production_model, digits)
    settings = helpers.settings_for(redis_url, mlflow_store, unused_port, retrain_policy=policy)
    async with (
        helpers.serve(create_app(settings), unused_port) as url,
        httpx.AsyncClient(base_url=url, timeout=120, headers=helpers.ADMIN) as http,
    ):
        x, _ = inverted(digits.pool_x, digits.pool_y, 250, np.random.default_rng(0))
        body = await check_window(http, helpers, redis_db, digits.entries(x))
        assert set(body) >= ESTIMATE_KEYS
        assert body["calibrated"] is True
        assert body["estimated_accuracy_drop"] == pytest.approx(
            body["reference_estimated_accuracy"] - body["estimated_accuracy"], abs=1e-5
        )
        assert body["estimated_accuracy_drop"] >= settings.estimate_drop
        assert isinstance(body["retrain_job_id"], str)
        (task,) = helpers.queued_tasks(redis_db)
        reason = task[1]["reason"]
        assert "estimated accuracy (calibrated CBPE) fell from " in reason
        assert f"{body['reference_estimated_accuracy']:.3f}" in reason
        assert f"{body['estimated_accuracy']:.3f}" in reason

        status = (await http.get("/v1/drift/status")).json()
        assert {key: status[key] for key in ESTIMATE_KEYS} == {
            key: body[key] for key in ESTIMATE_KEYS
        }
        text = (await http.get("/metrics")).text
        assert helpers.metric(text, "drift_estimated_accuracy", DIGITS) == pytest.approx(
            body["estimated_accuracy"], abs=1e-5
        )
        assert helpers.metric(text, "drift_estimated_accuracy_drop", DIGITS) == pytest.approx(
            body["estimated_accuracy_drop"], abs=1e-5
        )
        assert helpers.metric(text, "drift_retrains_queued_total", DIGITS) == 1


@pytest.mark.slow
async def test_drift_the_model_is_confident_through_does_not_retrain_under_estimate(  # type: ignore[no-untyped-def]
    redis_url: str,
    redis_db: redis.Redis,
    mlflow_store: Any,
    production_model: str,
    unused_port: int,
    digits,
    helpers,
) -> None:
    # no calibration registered: the estimate uses raw confidences
    settings = helpers.settings_for(redis_url, mlflow_store, unused_port, retrain_policy="estimate")
    confident = digits.pool_x[
        np.isin(digits.pool_y, [0, 1]) & (digits.predict(digits.pool_x).max(axis=1) > 0.9)
    ]
    rows = confident[np.random.default_rng(0).choice(len(confident), 250)]
    async with (
        helpers.serve(create_app(settings), unused_port) as url,
        httpx.AsyncClient(base_url=url, timeout=120, headers=helpers.ADMIN) as http,
    ):
        body = await check_window(http, helpers, redis_db, digits.entries(rows))
        assert body["drift_detected"] is True
        assert body["calibrated"] is False
        assert body["estimated_accuracy_drop"] < 0  # more confident than the reference
        assert body["retrain_job_id"] is None
        assert any("no retrain queued (policy estimate)" in r for r in body["reasons"])
        assert helpers.queued_tasks(redis_db) == []
        text = (await http.get("/metrics")).text
        assert helpers.metric(text, "drift_retrains_queued_total", DIGITS) == 0
