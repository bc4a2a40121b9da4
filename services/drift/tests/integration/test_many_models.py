"""Two models watched at once over real HTTP: each its stream, reference, spec and verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from _drift_simulation import clean

from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent
from mlops_common.registry import MODEL_NAME
from mlops_drift.app import create_app


def flowers_reference(tmp_path: Path, flowers: Any, *, outputs: bool = True) -> Path:
    path = tmp_path / "flowers" / "reference" / "features.csv"
    path.parent.mkdir(parents=True)
    frame = flowers.reference
    if not outputs:  # as an imported model's reference may be: inputs only
        frame = frame.drop(columns=["prediction", "confidence"])
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
async def test_shift_of_one_model_drifts_that_model_only(  # type: ignore[no-untyped-def]
    redis_url: str,
    redis_db: redis.Redis,
    mlflow_store: Any,
    production_model: str,
    tmp_path: Path,
    unused_port: int,
    digits,
    flowers,
    specs,
    helpers,
) -> None:
    name = specs.flowers_name
    onnx_path = helpers.write_iris_model(tmp_path / "flowers.onnx")
    reference = flowers_reference(tmp_path, flowers)
    helpers.register_model(
        mlflow_store.tracking_uri,
        onnx_path,
        name=name,
        spec=specs.flowers(),
        reference_csv=reference,
    )
    settings = helpers.settings_for(
        redis_url, mlflow_store, unused_port, models=f"{MODEL_NAME},{name}"
    )
    async with (
        helpers.serve(create_app(settings), unused_port) as url,
        httpx.AsyncClient(base_url=url, timeout=120, headers=helpers.ADMIN) as http,
    ):
        await helpers.wait_for(lambda: helpers.reference_is(http, "1"))
        await helpers.wait_for(lambda: helpers.reference_is(http, "1", name))
        x, _ = clean(digits.pool_x, digits.pool_y, 220, np.random.default_rng(3))
        helpers.add_traffic(redis_db, digits.entries(x))
        helpers.add_traffic(redis_db, flowers.entries(flowers.shifted(250)), model=name)
        await helpers.wait_for(lambda: helpers.window_has(http, 220))
        await helpers.wait_for(lambda: helpers.window_has(http, 250, name))

        drifted = (await http.post("/v1/drift/check", params={"model": name})).json()
        assert drifted["model"] == name
        assert drifted["drift_detected"] is True
        assert list(drifted["feature_scores"]) == list(specs.flower_columns)
        assert drifted["drifted_features"] == ["petal_length", "petal_width"]
        assert drifted["reasons"][-1] == "not trainable: no retrain queued"
        assert drifted["retrain_job_id"] is None
        assert helpers.queued_tasks(redis_db) == []

        steady = (await http.post("/v1/drift/check")).json()  # the default: the first model
        assert steady["model"] == MODEL_NAME
        assert steady["drift_detected"] is False
        assert len(steady["feature_scores"]) == 64
        status = (await http.get("/v1/drift/status", params={"model": MODEL_NAME})).json()
        assert status == {key: value for key, value in steady.items() if key != "retrain_job_id"}

        listed = (await http.get("/v1/drift/models")).json()["models"]
        assert [(m["name"], m["version"], m["window_size"]) for m in listed] == [
            (MODEL_NAME, "1", 220),
            (name, "1", 250),
        ]
        assert listed[1]["columns"] == [*specs.flower_columns, "prediction", "confidence"]
        assert listed[1]["last_check"]["drifted_features"] == ["petal_length", "petal_width"]

        for path in ("/v1/drift/status", "/v1/drift/report"):
            unknown = await http.get(path, params={"model": "ghost"})
            assert unknown.status_code == 404
            error = unknown.json()["error"]
            assert error["code"] == "unknown_model"
            assert error["message"].endswith(f"monitored models: {MODEL_NAME}, {name}")
        report = await http.get("/v1/drift/report", params={"model": name})
        assert "petal_width" in report.text
        assert "pixel_0_0" not in report.text

        text = (await http.get("/metrics")).text
        assert helpers.metric(text, "drift_dataset_drift", helpers.of(name)) == 1
        assert helpers.metric(text, "drift_dataset_drift", helpers.of(MODEL_NAME)) == 0
        assert helpers.metric(text, "drift_checks_total", helpers.of(name)) == 1

        # a promotion of one model reloads that model only
        new = helpers.register_model(
            mlflow_store.tracking_uri,
            onnx_path,
            name=name,
            spec=specs.flowers(),
            reference_csv=reference,
        )
        redis_db.publish(MODEL_EVENTS_CHANNEL, ModelEvent(name, new).encode())
        await helpers.wait_for(lambda: helpers.reference_is(http, "2", name), within_s=20)
        await helpers.wait_for(lambda: helpers.window_has(http, 0, name))
        assert await helpers.window_has(http, 220)
        assert (await http.get("/v1/drift/status")).status_code == 200
        assert (await http.get("/v1/drift/status", params={"model": name})).status_code == 404


async def test_a_model_whose_spec_fails_does_not_stop_the_other(  # type: ignore[no-untyped-def]
    redis_url: str,
    redis_db: redis.Redis,
    mlflow_store: Any,
    production_model: str,
    tmp_path: Path,
    unused_port: int,
    digits,
    flowers,
    specs,
    helpers,
) -> None:
    broken, imported = "broken-classifier", specs.flowers_name
    onnx_path = helpers.write_iris_model(tmp_path / "m.onnx")
    bad_spec = {
        **specs.flowers(),
        "name": broken,
        "monitored": [{"name": "x", "source": "input:9"}],
    }
    helpers.register_model(
        mlflow_store.tracking_uri,
        onnx_path,
        name=broken,
        spec=bad_spec,
        reference_csv=flowers_reference(tmp_path / "b", flowers),
    )
    helpers.register_model(
        mlflow_store.tracking_uri,
        onnx_path,
        name=imported,
        spec=specs.flowers(),
        reference_csv=flowers_reference(tmp_path / "i", flowers, outputs=False),
    )
    models = f"{broken},{MODEL_NAME},{imported}"
    settings = helpers.settings_for(redis_url, mlflow_store, unused_port, models=models)
    async with (
        helpers.serve(create_app(settings), unused_port) as url,
        httpx.AsyncClient(base_url=url, timeout=120, headers=helpers.ADMIN) as http,
    ):
        await helpers.wait_for(lambda: helpers.reference_is(http, "1"))
        await helpers.wait_for(lambda: helpers.reference_is(http, "1", imported))
        refused = await http.post("/v1/drift/check")  # the default: the broken model
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "no_reference"
        assert "invalid model-spec.json" in refused.json()["error"]["message"]
        assert "input:9" in refused.json()["error"]["message"]
        listed = {m["name"]: m for m in (await http.get("/v1/drift/models")).json()["models"]}
        assert listed[broken]["version"] is None
        assert listed[broken]["columns"] == []

        x, _ = clean(digits.pool_x, digits.pool_y, 210, np.random.default_rng(4))
        helpers.add_traffic(redis_db, digits.entries(x))
        helpers.add_traffic(redis_db, flowers.entries(flowers.pool[:220]), model=imported)
        await helpers.wait_for(lambda: helpers.window_has(http, 210))
        await helpers.wait_for(lambda: helpers.window_has(http, 220, imported))
        verdict = (await http.post("/v1/drift/check", params={"model": MODEL_NAME})).json()
        assert verdict["drift_detected"] is False
        # an imported model's reference without prediction/confidence: those tests are skipped
        skipped = (await http.post("/v1/drift/check", params={"model": imported})).json()
        assert skipped["drift_detected"] is False
        assert skipped["reasons"] == [
            "predicted-label test skipped: the reference has no 'prediction' column",
            "confidence test skipped: the reference has no 'confidence' column",
        ]
