"""Each page driven by Streamlit's AppTest against the real platform (gateway, inference, drift,
Redis, MLflow registry, Celery worker), asserting what the page shows. The default model is
picked (the many-models pages against the contract are in ``contract/``)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
from streamlit.testing.v1 import AppTest

from mlops_common.redis_keys import FEEDBACK_HASH
from mlops_common.registry import MODEL_NAME
from mlops_frontend.launch import APP_PATH

from .contract.apptest_text import metric, texts

pytestmark = pytest.mark.slow

Platform = Any  # conftest.Platform (conftest modules are not importable by name)
Opener = Callable[[str], AppTest]


@pytest.fixture
def open_page(monkeypatch: pytest.MonkeyPatch, platform: Platform) -> Opener:
    """Open a page of the app, configured for the running platform, with the admin key set."""
    monkeypatch.setenv("FRONTEND_GATEWAY_URL", platform.gateway_url)
    monkeypatch.setenv("FRONTEND_ADMIN_API_KEY", platform.admin_key)
    monkeypatch.setenv("FRONTEND_JOB_POLL_INTERVAL_S", "0.2")
    return _opener


def _promote_back(platform: Platform) -> None:
    """Serve v2 again, as every test expects to find it."""
    with httpx.Client(base_url=platform.gateway_url) as http:
        back = http.post(
            f"/v1/models/{MODEL_NAME}/promote",
            json={"version": "2"},
            headers={"X-API-Key": platform.admin_key},
        )
        assert back.status_code == 200, back.text


def _opener(page: str) -> AppTest:
    app = AppTest.from_file(str(APP_PATH), default_timeout=60).run()
    assert not app.exception, app.exception
    if page != "predict":
        app.switch_page(f"views/{page}.py").run()
    assert not app.exception, app.exception
    return app


def test_predict_page_shows_prediction_and_records_feedback(
    open_page: Opener, platform: Platform, digit_png: bytes
) -> None:
    app = open_page("predict")
    assert app.title[0].value == "Predict a digit"
    assert "Draw a digit or upload an image to start." in texts(app)

    app.file_uploader[0].set_value(("seven.png", digit_png, "image/png")).run()
    assert app.image, "the 8×8 preview is shown"
    app.button(key="predict_button").click().run()
    assert not app.error, texts(app)

    with httpx.Client(base_url=platform.gateway_url) as http:
        direct = http.post(
            f"/v1/models/{MODEL_NAME}/predict",
            json={"images": [base64.b64encode(digit_png).decode()]},
        ).json()
    expected = direct["predictions"][0]
    assert metric(app, "Predicted digit") == str(expected["label"])
    assert metric(app, "Confidence") == f"{expected['confidence']:.1%}"
    assert metric(app, "Model version") not in ("", "unknown")
    assert app.get("vega_lite_chart"), "the probability chart is drawn"

    truth = (expected["class_index"] + 1) % 10
    app.selectbox(key="feedback_label").set_value(str(truth))
    app.button[-1].click().run()  # the form's submit button
    assert "recorded (corrected)" in texts(app)
    prediction_id = next(c.value for c in app.caption if "Prediction id" in c.value)
    stored_id = prediction_id.split("`")[1]
    with redis.Redis.from_url(platform.redis_url) as client:
        assert client.hget(FEEDBACK_HASH, stored_id) == str(truth).encode()


def test_predict_page_rejects_a_file_that_is_no_image(open_page: Opener) -> None:
    app = open_page("predict")
    app.file_uploader[0].set_value(("fake.png", b"this is not a PNG", "image/png")).run()
    assert "This image cannot be used" in texts(app)
    assert not app.exception


def test_model_page_lists_versions_and_promotes_with_the_admin_key(
    open_page: Opener, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page("model")
    assert "Serving now" in texts(app)
    assert metric(app, "Version") == "v2"
    assert metric(app, "Test accuracy") == "91.00%"
    table = app.dataframe[0].value
    assert list(table["Version"]) == ["v2", "v1"]
    assert list(table["Serving"]) == ["● serving", ""]

    app.selectbox(key="promote_version").set_value("1")
    app.button[-1].click().run()
    try:
        assert f"Version v1 of `{MODEL_NAME}` is now in production (was v2)" in texts(app)
        assert metric(app, "Version") == "v1"
    finally:
        _promote_back(platform)

    monkeypatch.setenv("FRONTEND_ADMIN_API_KEY", "wrong-key")
    app = open_page("model")
    app.selectbox(key="promote_version").set_value("1")
    app.button[-1].click().run()
    assert "Admin key refused" in texts(app)


def test_without_a_configured_key_admin_actions_wait_for_a_typed_one(
    open_page: Opener, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``make up`` opened to the network runs: no FRONTEND_ADMIN_API_KEY, so promoting
    fails until the person types the key; the typed key is then sent and never shown."""
    monkeypatch.delenv("FRONTEND_ADMIN_API_KEY")
    app = open_page("model")
    app.selectbox(key="promote_version").set_value("1")
    app.button[-1].click().run()
    assert "Enter the admin API key first." in texts(app)
    assert metric(app, "Version") == "v2"

    app.text_input(key="promote_key").input("not-the-admin-key")
    app.button[-1].click().run()
    assert "Admin key refused" in texts(app)
    assert metric(app, "Version") == "v2"

    app.text_input(key="promote_key").input(platform.admin_key)
    app.button[-1].click().run()
    try:
        assert f"Version v1 of `{MODEL_NAME}` is now in production (was v2)" in texts(app)
        assert platform.admin_key not in texts(app)
    finally:
        _promote_back(platform)


def _send_blank_traffic(gateway_url: str, count: int) -> None:
    """Near-blank grids: far from the reference of random grids, so the features drift."""
    instances = [[0.0] * 63 + [float(i % 3)] for i in range(count)]
    with httpx.Client(base_url=gateway_url, timeout=10) as http:
        assert http.post("/v1/predict", json={"instances": instances}).status_code == 200


def _wait_for_window(drift_url: str, rows: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=drift_url) as http:
        while time.monotonic() < deadline:
            body = http.get("/metrics").text
            # one sample per watched model (``drift_window_size{model="…"} N``) or one in all
            sizes = [
                float(line.rsplit(maxsplit=1)[1])
                for line in body.splitlines()
                if line.startswith(("drift_window_size ", "drift_window_size{"))
            ]
            if sizes and max(sizes) >= rows:
                return
            time.sleep(0.2)
    raise AssertionError(f"the drift window never held {rows} rows")


def test_drift_page_runs_a_check_and_draws_each_feature_and_the_report(
    open_page: Opener, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = open_page("drift")  # the window is not full yet: information, not an error
    assert not before.error, texts(before)
    assert "No check yet" in before.info[0].value

    _send_blank_traffic(platform.gateway_url, 60)
    _wait_for_window(platform.drift_url, 60)

    monkeypatch.setenv("FRONTEND_ADMIN_API_KEY", "wrong-key")
    refused = open_page("drift")
    refused.button(key="drift_check").click().run()
    assert "Admin key refused" in texts(refused)

    monkeypatch.setenv("FRONTEND_ADMIN_API_KEY", platform.admin_key)
    app = open_page("drift")
    app.button(key="drift_check").click().run()
    assert not app.exception
    shown = texts(app)
    assert "Drift detected" in shown, shown
    assert "features drifted" in shown  # the reason the drift service gives
    assert int(metric(app, "Window size").replace(",", "")) >= 60

    # the per-feature chart is drawn from the verdict the gateway relays
    with httpx.Client(base_url=platform.gateway_url, timeout=60) as http:
        verdict = http.get(f"/v1/models/{MODEL_NAME}/drift").json()
    assert len(verdict["feature_scores"]) == 64
    drifted = verdict["drifted_features"]
    assert drifted, verdict
    charts = [c for c in app.get("vega_lite_chart") if "Drift of each pixel" in c.proto.spec]
    assert charts, "the per-feature chart is drawn"
    assert "K-S p_value" in charts[0].proto.spec
    assert f"{len(drifted)} of 64 pixels drifted (ks p < 0.001" in shown
    assert "No per-feature scores" not in shown

    app.toggle(key="drift_report").set_value(True).run()
    frames = list(app.get("iframe"))
    assert frames, "the Evidently report is embedded"
    with httpx.Client(base_url=platform.drift_url, timeout=60) as http:
        report = http.get("/v1/drift/report", params={"model": MODEL_NAME}).text
    assert "<html" in report
    assert frames[0].proto.srcdoc == report  # fetched through the gateway, byte for byte


def test_retraining_page_follows_a_job_until_it_is_promoted(
    open_page: Opener, retrain_worker: None
) -> None:
    app = open_page("retraining")
    assert "No job yet" in texts(app)
    app.button[-1].click().run()  # "Start retraining" with the configured key
    assert "Queued" in texts(app) or app.get("progress"), texts(app)
    deadline = time.monotonic() + 30
    seen_stages: set[str] = set()
    while "Promoted" not in texts(app):
        assert time.monotonic() < deadline, texts(app)
        seen_stages |= {str(p.proto.text) for p in app.get("progress")}
        time.sleep(0.2)
        app.run()
    assert any("epoch" in stage for stage in seen_stages), seen_stages
    shown = texts(app)
    assert "version v3 now serves (was v2)" in shown
    assert "candidate test_accuracy 0.962" in shown  # why it was promoted
    assert "MLflow run `stand-in-run`" in shown
    assert "ONNX parity ✓" in shown
    table = app.dataframe[0].value
    assert list(table.columns) == ["Candidate", "Production v2"]
    assert table.loc["test_accuracy", "Candidate"] == pytest.approx(0.962)
    assert table.loc["test_accuracy", "Production v2"] == pytest.approx(0.910)
