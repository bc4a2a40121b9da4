"""OIP REST pass-through, probes and /metrics."""

from __future__ import annotations

import httpx
import numpy as np

from mlops_common.registry import MODEL_NAME

from .conftest import metric_value


def test_server_live_and_ready(client: httpx.Client) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_model_metadata_and_readiness(client: httpx.Client) -> None:
    meta = client.get(f"/v2/models/{MODEL_NAME}").json()
    assert meta["name"] == MODEL_NAME
    assert meta["inputs"][0] == {"name": "features", "datatype": "FP32", "shape": [-1, 64]}
    assert meta["outputs"][0]["name"] == "probabilities"
    assert client.get(f"/v2/models/{MODEL_NAME}/ready").json() == {
        "name": MODEL_NAME,
        "ready": True,
    }


def test_unknown_model_is_404(client: httpx.Client) -> None:
    response = client.get("/v2/models/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    infer = client.post(
        "/v2/models/nope/infer",
        json={
            "inputs": [{"name": "features", "shape": [1, 64], "datatype": "FP32", "data": [0] * 64}]
        },
    )
    assert infer.status_code == 404


def test_json_tensors_infer(client: httpx.Client) -> None:
    data = np.linspace(0, 16, 128).reshape(2, 64).tolist()
    response = client.post(
        f"/v2/models/{MODEL_NAME}/infer",
        json={
            "id": "abc",
            "inputs": [{"name": "features", "shape": [2, 64], "datatype": "FP32", "data": data}],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "abc"
    assert body["model_name"] == MODEL_NAME
    (output,) = body["outputs"]
    assert output["name"] == "probabilities"
    assert output["shape"] == [2, 10]
    assert np.allclose(np.asarray(output["data"]).reshape(2, 10).sum(axis=1), 1.0, atol=1e-4)


def test_rejected_tensors_are_400(client: httpx.Client) -> None:
    wrong_shape = client.post(
        f"/v2/models/{MODEL_NAME}/infer",
        json={
            "inputs": [{"name": "features", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]
        },
    )
    assert wrong_shape.status_code == 400
    assert wrong_shape.json()["error"]["code"] == "inference_rejected"
    short = client.post(
        f"/v2/models/{MODEL_NAME}/infer",
        json={"inputs": [{"name": "features", "shape": [1, 64], "datatype": "FP32", "data": [1]}]},
    )
    assert short.status_code == 400
    assert "do not fill shape" in short.json()["error"]["message"]


def test_unknown_route_and_method_keep_the_error_shape(client: httpx.Client) -> None:
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    method = client.get("/v1/predict")
    assert method.status_code == 405
    assert method.json()["error"]["code"] == "method_not_allowed"


def test_metrics_count_requests_by_route_template(client: httpx.Client) -> None:
    client.get(f"/v2/models/{MODEL_NAME}/ready")
    client.post("/v1/predict", json={"instances": [[1.0] * 64]})
    client.post("/v1/predict", json={"instances": [[1.0] * 63]})
    text = client.get("/metrics").text
    assert (
        metric_value(
            text,
            "gateway_requests_total",
            'route="/v2/models/{name}/ready",method="GET",status="200"',
        )
        >= 1
    )
    assert (
        metric_value(
            text, "gateway_requests_total", 'route="/v1/predict",method="POST",status="422"'
        )
        >= 1
    )
    assert metric_value(text, "gateway_inference_duration_seconds_count") >= 1
    assert metric_value(text, "gateway_inference_call_requests_count") >= 1
    assert "gateway_request_duration_seconds_bucket" in text
    for name in (
        "gateway_traffic_buffer_depth",
        "gateway_traffic_dropped_total",
        "gateway_traffic_logged_total",
    ):
        assert name in text
