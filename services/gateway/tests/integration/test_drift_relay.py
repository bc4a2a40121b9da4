"""The drift routes against the REAL drift service (``mlops_drift``), fed by the gateway's traffic.

A private Redis carries the traffic stream from the gateway to the drift service; a sqlite
registry holds the production version and its reference sample. The tests run in file order:
first nothing is checked, then traffic arrives and a check runs, then the failure modes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlops_common.testing.onnx_models import register_onnx_model
from mlops_common.testing.servers import RedisServer, free_port

from .conftest import ADMIN_KEY, BackgroundLoop, GatewayFactory, HttpServer, start_drift
from .conftest import write_reference_csv as reference_csv

ADMIN = {"X-API-Key": ADMIN_KEY}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def relay_redis() -> Iterator[str]:
    """A private Redis: the drift service's consumer group must not take other suites' traffic."""
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def drift_registry(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> str:
    """Version 1 in production, with a reference of random grids."""
    root = tmp_path_factory.mktemp("drift-registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    csv = reference_csv(root / "reference.csv", model_path)
    register_onnx_model(uri, model_path, alias="production", reference_csv=csv)
    return uri


@pytest.fixture(scope="module")
def drift(loop: BackgroundLoop, relay_redis: str, drift_registry: str) -> Iterator[HttpServer]:
    """The real drift service, once it has loaded the production reference (in the background)."""
    server = start_drift(loop, relay_redis, drift_registry)
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=server.url) as http:
        while 'drift_reference_info{name="' not in http.get("/metrics").text:
            assert time.monotonic() < deadline, "the drift service never loaded its reference"
            time.sleep(0.1)
    yield server
    loop.run(server.stop())


@pytest.fixture(scope="module")
def relay(gateway_factory: GatewayFactory, drift: HttpServer, relay_redis: str) -> str:
    """A gateway logging traffic to the drift service's Redis and relaying to it."""
    return gateway_factory(drift_url=drift.url, redis_url=relay_redis)


def _wait_for_window(drift_url: str, rows: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=drift_url) as http:
        while time.monotonic() < deadline:
            lines = http.get("/metrics").text.splitlines()
            line = next((x for x in lines if x.startswith("drift_window_size{")), "")
            if line and float(line.split()[1]) >= rows:
                return
            time.sleep(0.1)
    raise AssertionError(f"the drift window never held {rows} rows")


def test_before_any_check_the_drift_services_answers_are_relayed(relay: str) -> None:
    with httpx.Client(base_url=relay, timeout=30) as http:
        report = http.get("/v1/drift/report")
        assert report.status_code == 404, report.text
        assert report.json()["error"]["code"] == "no_verdict"
        assert (
            "no drift check of digits-classifier has finished" in report.json()["error"]["message"]
        )

        assert http.post("/v1/drift/check").status_code == 401
        assert http.post("/v1/drift/check", headers={"X-API-Key": "wrong"}).status_code == 403
        early = http.post("/v1/drift/check", headers=ADMIN)
        assert early.status_code == 409, early.text
        assert early.json()["error"]["code"] == "window_too_small"
        assert "a verdict needs at least 30" in early.json()["error"]["message"]

        verdict = http.get("/v1/drift")
        assert verdict.status_code == 404
        assert verdict.json()["error"]["code"] == "not_found"


def test_check_verdict_and_report_come_from_the_drift_service(
    relay: str, drift: HttpServer
) -> None:
    blank = [[0.0] * 63 + [float(i % 3)] for i in range(60)]  # far from the random reference
    with httpx.Client(base_url=relay, timeout=60) as http:
        assert http.post("/v1/predict", json={"instances": blank}).status_code == 200
        _wait_for_window(drift.url, 60)

        checked = http.post("/v1/drift/check", headers=ADMIN)
        assert checked.status_code == 200, checked.text
        body = checked.json()
        assert body["drift_detected"] is True
        assert body["window_size"] >= 60
        assert body["retrain_job_id"] is None  # retraining is off in this drift service
        assert len(body["feature_scores"]) == 64
        assert body["drifted_features"]
        assert body["feature_test"]["score_is_p_value"] is True

        own = httpx.get(f"{drift.url}/v1/drift/status").json()
        relayed = http.get("/v1/drift")
        assert relayed.status_code == 200
        assert relayed.json() == own  # per-feature scores included, nothing lost
        assert own["model"] == "digits-classifier"
        per_model = http.get("/v1/models/digits-classifier/drift")
        assert per_model.json() == own
        unknown = http.get("/v1/models/ghost/drift")
        assert unknown.status_code == 404, unknown.text
        assert "monitored models: digits-classifier" in unknown.json()["error"]["message"]

        report = http.get("/v1/drift/report")
        assert report.status_code == 200, report.text[:300]
        assert report.headers["content-type"].startswith("text/html")
        assert report.headers.get("transfer-encoding") == "chunked"  # streamed, not buffered
        assert "pixel_0_0" in report.text
        direct = httpx.get(f"{drift.url}/v1/drift/report", timeout=60)
        assert report.text == direct.text


def test_a_drift_service_without_reference_answers_503(
    loop: BackgroundLoop,
    gateway_factory: GatewayFactory,
    relay_redis: str,
    tmp_path: Path,
) -> None:
    empty = start_drift(loop, relay_redis, f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        url = gateway_factory(drift_url=empty.url)
        with httpx.Client(base_url=url, timeout=30) as http:
            response = http.post("/v1/drift/check", headers=ADMIN)
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "no_reference"
            assert (
                "no production version of digits-classifier" in response.json()["error"]["message"]
            )
    finally:
        loop.run(empty.stop())


def test_the_drift_service_takes_the_gateways_key_only(
    drift: HttpServer, gateway_factory: GatewayFactory
) -> None:
    """Drift's check needs its own admin key: the gateway relays with GATEWAY_DRIFT_API_KEY;
    a gateway holding a wrong one answers 502 saying which settings disagree."""
    with httpx.Client(base_url=drift.url, timeout=30) as direct:
        assert direct.post("/v1/drift/check").status_code == 401
        wrong = direct.post("/v1/drift/check", headers={"X-API-Key": "not-the-key"})
        assert wrong.status_code == 403
        assert wrong.json()["error"]["code"] == "forbidden"
        assert "not-the-key" not in wrong.text
    misconfigured = gateway_factory(drift_url=drift.url, drift_api_key="not-the-key")
    with httpx.Client(base_url=misconfigured, timeout=30) as http:
        refused = http.post("/v1/drift/check", headers=ADMIN)
        assert refused.status_code == 502, refused.text
        assert refused.json()["error"]["code"] == "drift_failed"
        assert "GATEWAY_DRIFT_API_KEY" in refused.json()["error"]["message"]
        assert "not-the-key" not in refused.text


def test_drift_down_is_503(gateway_factory: GatewayFactory) -> None:
    url = gateway_factory(drift_url=f"http://127.0.0.1:{free_port()}")
    with httpx.Client(base_url=url, timeout=30) as http:
        for response in (http.get("/v1/drift/report"), http.post("/v1/drift/check", headers=ADMIN)):
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "drift_unavailable"
            assert response.headers["retry-after"] == "1"


def test_slow_drift_is_504(relay: str, drift: HttpServer, gateway_factory: GatewayFactory) -> None:
    """Last: a new check makes the next report slow to build (seconds), past a short deadline."""
    impatient = gateway_factory(
        drift_url=drift.url, drift_check_timeout_s=0.01, drift_report_timeout_s=0.2
    )
    before = httpx.get(f"{drift.url}/v1/drift/status").json()["checked_at"]
    with httpx.Client(base_url=impatient, timeout=30) as http:
        check = http.post("/v1/drift/check", headers=ADMIN)
        assert check.status_code == 504, check.text
        assert check.json()["error"]["code"] == "deadline_exceeded"
        deadline = time.monotonic() + 30  # the check still finishes in the drift service
        while httpx.get(f"{drift.url}/v1/drift/status").json()["checked_at"] == before:
            assert time.monotonic() < deadline, "the check never finished"
            time.sleep(0.05)
        report = http.get("/v1/drift/report")
        assert report.status_code == 504, report.text[:300]
        assert report.json()["error"]["code"] == "deadline_exceeded"
