"""The client turns every failure into a typed error and every answer into a typed value."""

from __future__ import annotations

import base64
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
        {
            "id": "p1",
            "label": "3",
            "class_index": 3,
            "confidence": 0.9,
            "probabilities": [0.01] * 3 + [0.9] + [0.0] * 6,
        }
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


def test_predictions_post_the_body_of_each_input_kind_to_the_models_route() -> None:
    seen: list[httpx.Request] = []
    client = client_with(answering(200, PREDICTION, seen))
    answer = client.predict_images("digits-classifier", [b"png"])
    assert (answer.first.id, answer.first.label, answer.model_version) == ("p1", "3", "4")
    assert (seen[0].method, seen[0].url.path) == ("POST", "/v1/models/digits-classifier/predict")
    assert json.loads(seen[0].content) == {"images": [base64.b64encode(b"png").decode()]}
    client.predict_instances("iris", [[1, 2.5, 3, 4]])
    assert json.loads(seen[1].content) == {"instances": [[1.0, 2.5, 3.0, 4.0]]}
    client.predict_texts("news", ["hello"])
    assert json.loads(seen[2].content) == {"texts": ["hello"]}
    client.predict_texts("a/b c", ["x"])
    assert seen[3].url.raw_path == b"/v1/models/a%2Fb%20c/predict"


def test_feedback_sends_the_class_name() -> None:
    seen: list[httpx.Request] = []
    client_with(answering(200, {"id": "p1", "label": 2}, seen)).send_feedback("p1", "virginica")
    assert (seen[0].method, seen[0].url.path) == ("POST", "/v1/feedback")
    assert json.loads(seen[0].content) == {"id": "p1", "label": "virginica"}


def test_models_and_versions_read_the_catalog_and_a_models_detail() -> None:
    seen: list[httpx.Request] = []
    catalog = {"default": "a", "models": [{"name": "a", "version": "1", "ready": True}]}
    assert client_with(answering(200, catalog, seen)).models().default == "a"
    assert seen[0].url.path == "/v1/models"
    detail = {"name": "a", "versions": [{"name": "a", "version": "1"}], "trainable": True}
    assert client_with(answering(200, detail, seen)).model("a").versions[0].version == "1"
    assert seen[1].url.path == "/v1/models/a"


def test_an_unknown_model_is_an_api_error_with_its_code() -> None:
    body = {"error": {"code": "model_not_found", "message": "no model 'x'"}}
    with pytest.raises(ApiError) as caught:
        client_with(answering(404, body)).model("x")
    assert (caught.value.status, caught.value.code) == (404, "model_not_found")


def test_error_json_becomes_api_error_with_code_and_message() -> None:
    body = {"error": {"code": "inference_unavailable", "message": "inference is down"}}
    with pytest.raises(ApiError) as caught:
        client_with(answering(503, body)).predict_instances("d", [[0.0] * 64])
    assert caught.value.status == 503
    assert caught.value.code == "inference_unavailable"
    assert caught.value.message == "inference is down"


def test_non_json_error_keeps_the_status_and_text() -> None:
    with pytest.raises(ApiError) as caught:
        client_with(answering(502, "Bad Gateway from the proxy")).models()
    assert (caught.value.status, caught.value.code) == (502, "http_502")
    assert "Bad Gateway from the proxy" in caught.value.message


def test_connection_refused_is_service_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(ServiceUnavailableError) as caught:
        client_with(httpx.MockTransport(refuse)).drift("d")
    assert caught.value.service == "gateway"
    assert caught.value.url == "http://gateway"
    assert caught.value.message.endswith("Connection refused")


def test_timeout_is_service_timeout_with_the_limit() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ServiceTimeoutError) as caught:
        client_with(httpx.MockTransport(slow), request_timeout_s=1.5).model("d")
    assert caught.value.timeout_s == 1.5


def test_a_2xx_answer_off_the_contract_is_malformed() -> None:
    with pytest.raises(MalformedAnswerError):
        client_with(answering(200, {"predictions": []})).predict_instances("d", [[0.0] * 64])
    with pytest.raises(MalformedAnswerError):
        client_with(answering(200, "<html>not json</html>")).models()


def test_admin_calls_send_the_key_and_job_ids_are_escaped() -> None:
    seen: list[httpx.Request] = []
    client = client_with(answering(202, {"job_id": "j/1"}, seen))
    assert client.start_retrain("iris", "manual", ["a=1"], "secret") == "j/1"
    assert (seen[0].method, seen[0].url.path) == ("POST", "/v1/models/iris/retrain")
    assert seen[0].headers["X-API-Key"] == "secret"
    assert json.loads(seen[0].content) == {"reason": "manual", "overrides": ["a=1"]}
    with pytest.raises(MalformedAnswerError):
        client.job("j/1")  # the stand-in answers a job_id body, not a job
    assert seen[1].url.raw_path == b"/v1/jobs/j%2F1"


def test_drift_report_and_check_go_to_the_gateway_and_the_check_sends_the_key() -> None:
    seen_status: list[httpx.Request] = []
    client_with(answering(200, {"drift_detected": None}, seen_status)).drift("iris")
    assert seen_status[0].url.path == "/v1/models/iris/drift"
    seen: list[httpx.Request] = []
    verdict = {"drift_detected": True, "drifted_share": 0.5, "drifted_features": ["pixel_1_1"]}
    client = client_with(answering(200, verdict, seen), report_timeout_s=42)
    checked = client.run_drift_check("digits-classifier", "secret")
    assert checked.drift_detected is True
    assert checked.drifted_features == ("pixel_1_1",)
    assert (seen[0].method, str(seen[0].url)) == (
        "POST",
        "http://gateway/v1/models/digits-classifier/drift/check",
    )
    assert seen[0].headers["X-API-Key"] == "secret"
    assert seen[0].extensions["timeout"]["read"] == 42
    client.drift_report("digits-classifier")
    assert (seen[1].method, str(seen[1].url)) == (
        "GET",
        "http://gateway/v1/models/digits-classifier/drift/report",
    )
    assert seen[1].extensions["timeout"]["read"] == 42


def test_a_drift_error_relayed_by_the_gateway_keeps_its_code() -> None:
    body = {"error": {"code": "window_too_small", "message": "the window holds 3 rows"}}
    with pytest.raises(ApiError) as caught:
        client_with(answering(409, body)).run_drift_check("d", "secret")
    assert (caught.value.status, caught.value.code) == (409, "window_too_small")
    assert caught.value.service == "gateway"


def test_rollout_reads_the_state_and_actions_post_with_the_admin_key() -> None:
    seen: list[httpx.Request] = []
    body = {
        "model": "news",
        "production": {"version": "2"},
        "candidate": {"version": 3},
        "shadow": {"enabled": True, "share": None},
        "pinned": None,
        "probation": None,
        "stats": None,
        "decisions": [{"action": "shadow", "by": "admin", "timestamp": 1.0}],
    }
    client = client_with(answering(200, body, seen))
    rollout = client.rollout("news")
    assert rollout.candidate is not None
    assert (rollout.production.version, rollout.candidate.version) == ("2", "3")
    assert rollout.decisions[0].action == "shadow"
    client.rollout_action("news", {"action": "unpin"}, "key")
    assert (seen[1].method, seen[1].url.path) == ("POST", "/v1/models/news/rollout")
    assert seen[1].headers["X-API-Key"] == "key"
    assert json.loads(seen[1].content) == {"action": "unpin"}
