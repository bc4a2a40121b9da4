"""The client turns every failure into a typed error and every answer into a typed value."""

from __future__ import annotations

import json

import httpx
import pytest

from mlops_frontend.api import MalformedAnswerError
from mlops_frontend.client import (
    ApiError,
    PlatformClient,
    ServiceTimeoutError,
    ServiceUnavailableError,
)

PREDICTION = {
    "request_id": "r1",
    "model": {"name": "digits-classifier", "version": "4"},
    "predictions": [
        {"id": "p1", "label": 3, "confidence": 0.9, "probabilities": [0.01] * 3 + [0.9] + [0.0] * 6}
    ],
}


def client_with(handler: httpx.MockTransport | None = None, **kwargs: object) -> PlatformClient:
    return PlatformClient("http://gateway", transport=handler, **kwargs)  # type: ignore[arg-type]


def answering(
    status: int, body: object, seen: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handle)


def test_predict_image_posts_multipart_and_parses_the_answer() -> None:
    seen: list[httpx.Request] = []
    prediction = client_with(answering(200, PREDICTION, seen)).predict_image(b"png", "d.png")
    assert (prediction.id, prediction.label, prediction.model_version) == ("p1", 3, "4")
    assert seen[0].url.path == "/v1/predict/image"
    assert b'filename="d.png"' in seen[0].content
    assert b"Content-Type: image/png" in seen[0].content


def test_error_json_becomes_api_error_with_code_and_message() -> None:
    body = {"error": {"code": "inference_unavailable", "message": "inference is down"}}
    with pytest.raises(ApiError) as caught:
        client_with(answering(503, body)).predict_features([0.0] * 64)
    assert caught.value.status == 503
    assert caught.value.code == "inference_unavailable"
    assert caught.value.message == "inference is down"


def test_non_json_error_keeps_the_status_and_text() -> None:
    with pytest.raises(ApiError) as caught:
        client_with(answering(502, "Bad Gateway from the proxy")).serving_model()
    assert (caught.value.status, caught.value.code) == (502, "http_502")
    assert "Bad Gateway from the proxy" in caught.value.message


def test_connection_refused_is_service_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(ServiceUnavailableError) as caught:
        client_with(httpx.MockTransport(refuse)).drift()
    assert caught.value.service == "gateway"
    assert caught.value.url == "http://gateway"
    assert caught.value.message.endswith("Connection refused")


def test_timeout_is_service_timeout_with_the_limit() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ServiceTimeoutError) as caught:
        client_with(httpx.MockTransport(slow), request_timeout_s=1.5).model_versions()
    assert caught.value.timeout_s == 1.5


def test_a_2xx_answer_off_the_contract_is_malformed() -> None:
    with pytest.raises(MalformedAnswerError):
        client_with(answering(200, {"predictions": []})).predict_features([0.0] * 64)
    with pytest.raises(MalformedAnswerError):
        client_with(answering(200, "<html>not json</html>")).serving_model()


def test_admin_calls_send_the_key_and_job_ids_are_escaped() -> None:
    seen: list[httpx.Request] = []
    client = client_with(answering(202, {"job_id": "j/1"}, seen))
    assert client.start_retrain("manual", ["a=1"], "secret") == "j/1"
    assert seen[0].headers["X-API-Key"] == "secret"
    assert json.loads(seen[0].content) == {"reason": "manual", "overrides": ["a=1"]}
    with pytest.raises(MalformedAnswerError):
        client.job("j/1")  # the stand-in answers a job_id body, not a job
    assert seen[1].url.raw_path == b"/v1/jobs/j%2F1"


def test_drift_report_and_check_go_to_the_gateway_and_the_check_sends_the_key() -> None:
    seen: list[httpx.Request] = []
    verdict = {"drift_detected": True, "drifted_share": 0.5, "drifted_features": ["pixel_1_1"]}
    client = client_with(answering(200, verdict, seen), report_timeout_s=42)
    checked = client.run_drift_check("secret")
    assert checked.drift_detected is True
    assert checked.drifted_features == ("pixel_1_1",)
    assert (seen[0].method, str(seen[0].url)) == ("POST", "http://gateway/v1/drift/check")
    assert seen[0].headers["X-API-Key"] == "secret"
    assert seen[0].extensions["timeout"]["read"] == 42
    client.drift_report()
    assert (seen[1].method, str(seen[1].url)) == ("GET", "http://gateway/v1/drift/report")
    assert seen[1].extensions["timeout"]["read"] == 42


def test_a_drift_error_relayed_by_the_gateway_keeps_its_code() -> None:
    body = {"error": {"code": "window_too_small", "message": "the window holds 3 rows"}}
    with pytest.raises(ApiError) as caught:
        client_with(answering(409, body)).run_drift_check("secret")
    assert (caught.value.status, caught.value.code) == (409, "window_too_small")
    assert caught.value.service == "gateway"
