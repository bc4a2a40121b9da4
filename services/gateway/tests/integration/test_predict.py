"""``POST /v1/predict`` and ``/v1/predict/image`` against a real inference server and Redis."""

from __future__ import annotations

import asyncio
import base64
import io
import time

import grpc
import httpx
import numpy as np
import pytest
import redis
from PIL import Image

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.redis_keys import TrafficEntry, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.traffic import indexed_prediction

STREAM = traffic_stream(MODEL_NAME)

DIGIT = [0.0, 0, 5, 13, 9, 1, 0, 0] * 8


def _png(size: tuple[int, int] = (32, 32)) -> bytes:
    image = Image.new("L", size, 255)
    width, height = size
    for x in range(width // 4, 3 * width // 4):
        image.putpixel((x, height // 2), 0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _assert_prediction_shape(body: dict, n: int) -> None:
    assert body["model"]["name"] == "digits-classifier"
    assert body["model"]["version"]
    assert len(body["predictions"]) == n
    ids = {p["id"] for p in body["predictions"]}
    assert len(ids) == n
    for prediction in body["predictions"]:
        probabilities = prediction["probabilities"]
        assert len(probabilities) == 10
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert prediction["label"] == int(np.argmax(probabilities))
        assert prediction["confidence"] == pytest.approx(max(probabilities))


def test_instances_are_predicted_and_logged(client: httpx.Client, redis_url: str) -> None:
    response = client.post("/v1/predict", json={"instances": [DIGIT, [16.0] * 64, [0.0] * 64]})
    assert response.status_code == 200, response.text
    body = response.json()
    _assert_prediction_shape(body, 3)
    assert response.headers["x-request-id"] == body["request_id"]
    store = redis.Redis.from_url(redis_url)
    ids = [p["id"] for p in body["predictions"]]
    deadline = time.monotonic() + 5
    while not all(indexed_prediction(store, i, 7 * 24 * 3600) for i in ids):
        assert time.monotonic() < deadline, "traffic never reached Redis"
        time.sleep(0.02)
    entries = [TrafficEntry.decode(f) for _, f in store.xrevrange(STREAM, count=500)]
    logged = {e.id: e for e in entries if e.request_id == body["request_id"]}
    assert set(logged) == set(ids)
    first = logged[ids[0]]
    assert first.features.tolist() == DIGIT
    assert first.label == body["predictions"][0]["label"]
    assert first.model_version == body["model"]["version"]
    found = indexed_prediction(store, ids[0], 7 * 24 * 3600)
    assert found is not None
    assert found == (ids[0], found[1])
    assert 7 * 24 * 3600 - 1 <= found[1] <= 7 * 24 * 3600 + 3600  # the TTL, at most 1 h more


def test_client_request_id_is_kept(client: httpx.Client) -> None:
    response = client.post(
        "/v1/predict", json={"instances": [DIGIT]}, headers={"X-Request-ID": "my-req-42"}
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "my-req-42"
    assert response.json()["request_id"] == "my-req-42"


def test_base64_images_are_predicted(client: httpx.Client) -> None:
    encoded = base64.b64encode(_png()).decode()
    response = client.post(
        "/v1/predict", json={"images": [encoded, f"data:image/png;base64,{encoded}"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    _assert_prediction_shape(body, 2)
    assert body["predictions"][0]["probabilities"] == body["predictions"][1]["probabilities"]


def test_multipart_image_is_predicted(client: httpx.Client) -> None:
    response = client.post("/v1/predict/image", files={"file": ("digit.png", _png(), "image/png")})
    assert response.status_code == 200, response.text
    _assert_prediction_shape(response.json(), 1)


def _error(response: httpx.Response, status: int, code: str, words: str = "") -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert words.lower() in error["message"].lower()


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"instances": [[1.0] * 63]}, "instance 0 has 63 values; expected 64 (an 8×8 grid)"),
        ({"instances": [DIGIT, [1.0] * 65]}, "instance 1 has 65 values; expected 64"),
        ({"instances": [[17.0] * 64]}, "has 17 at position 0; values must lie in 0..16"),
        ({"instances": [[1.0] * 63 + [-1.0]]}, "has -1 at position 63; values must lie in 0..16"),
    ],
)
def test_instances_that_do_not_fit_the_spec_are_422(
    client: httpx.Client, payload: dict, words: str
) -> None:
    """Width and range come from the served version's spec (digits: 64 values in 0..16)."""
    _error(client.post("/v1/predict", json=payload), 422, "invalid_features", words)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"instances": [["a"] * 64]}, "valid number"),
        ({"instances": []}, "at least 1"),
        ({}, "exactly one"),
        ({"instances": [DIGIT], "images": ["x"]}, "exactly one"),
        ({"instancez": [DIGIT]}, "extra"),
    ],
)
def test_bad_instances_are_422_with_what_to_fix(
    client: httpx.Client, payload: dict, words: str
) -> None:
    _error(client.post("/v1/predict", json=payload), 422, "validation_error", words)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_values_are_422(client: httpx.Client, literal: str) -> None:
    body = '{"instances": [[' + ", ".join(["1"] * 63 + [literal]) + "]]}"
    response = client.post(
        "/v1/predict", content=body, headers={"content-type": "application/json"}
    )
    _error(response, 422, "validation_error", "finite")


def test_bad_json_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/v1/predict", content=b'{"instances": [', headers={"content-type": "application/json"}
    )
    _error(response, 422, "validation_error", "json")


def test_too_many_instances_is_422(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    url = gateway_factory(max_instances=2)
    with httpx.Client(base_url=url) as http:
        response = http.post("/v1/predict", json={"instances": [DIGIT] * 3})
    _error(response, 422, "invalid_features", "limit is 2")


def test_body_over_the_limit_is_413(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    url = gateway_factory(max_body_bytes=1000)
    with httpx.Client(base_url=url) as http:
        response = http.post("/v1/predict", json={"instances": [DIGIT] * 10})
        _error(response, 413, "payload_too_large", "1,000 bytes")

        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"instances": ['
            for _ in range(50):
                yield b"[" + b",".join([b"1"] * 64) + b"],"
            yield b"]}"

        streamed = http.post(
            "/v1/predict", content=chunks(), headers={"content-type": "application/json"}
        )
        _error(streamed, 413, "payload_too_large")


def test_undecodable_image_is_400(client: httpx.Client) -> None:
    bad = base64.b64encode(b"not an image at all").decode()
    _error(client.post("/v1/predict", json={"images": [bad]}), 400, "invalid_image", "decode")
    _error(client.post("/v1/predict", json={"images": ["%%%"]}), 400, "invalid_image", "base64")
    upload = client.post("/v1/predict/image", files={"file": ("x.png", b"garbage", "image/png")})
    _error(upload, 400, "invalid_image", "decode")


def test_upload_that_is_not_an_image_is_415(client: httpx.Client) -> None:
    upload = client.post("/v1/predict/image", files={"file": ("x.txt", b"hello", "text/plain")})
    _error(upload, 415, "unsupported_media_type", "text/plain")


def test_upload_without_a_file_is_422(client: httpx.Client) -> None:
    response = client.post("/v1/predict/image", data={"other": "x"})
    _error(response, 422, "validation_error", "file")


def test_image_over_the_pixel_limit_is_413(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    url = gateway_factory(max_image_pixels=100)
    with httpx.Client(base_url=url) as http:
        response = http.post(
            "/v1/predict/image", files={"file": ("big.png", _png((20, 20)), "image/png")}
        )
    _error(response, 413, "image_too_large", "limit is 100")


def test_rate_limit_is_429_with_retry_after(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    url = gateway_factory(rate_limit_per_s=1, rate_limit_burst=2)
    with httpx.Client(base_url=url) as http:
        statuses = [
            http.post("/v1/predict", json={"instances": [DIGIT]}).status_code for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        limited = http.post("/v1/predict", json={"instances": [DIGIT]})
        _error(limited, 429, "rate_limited", "too many requests")
        assert int(limited.headers["retry-after"]) >= 1
        assert http.get("/healthz").status_code == 200


def test_inference_down_is_503(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    from mlops_common.testing.servers import free_port

    url = gateway_factory(inference_target=f"127.0.0.1:{free_port()}", inference_retries=1)
    with httpx.Client(base_url=url) as http:
        response = http.post("/v1/predict", json={"instances": [DIGIT]})
        _error(response, 503, "inference_unavailable", "unavailable")
        assert response.headers["retry-after"] == "1"
        _error(http.get("/readyz"), 503, "inference_unavailable", "not ready")
        assert http.get("/healthz").status_code == 200


class _SlowInference(pb_grpc.GRPCInferenceServiceServicer):
    """Serves the digits model's metadata at once and answers inference too late."""

    async def RepositoryIndex(  # noqa: N802 - the protocol's name
        self, request: pb.RepositoryIndexRequest, context: grpc.aio.ServicerContext
    ) -> pb.RepositoryIndexResponse:
        entry = pb.RepositoryIndexResponse.ModelIndex(name=MODEL_NAME, version="1", state="READY")
        return pb.RepositoryIndexResponse(models=[entry])

    async def ModelMetadata(  # noqa: N802 - the protocol's name
        self, request: pb.ModelMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelMetadataResponse:
        tensor = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=MODEL_NAME,
            versions=["1"],
            inputs=[tensor(name="features", datatype="FP32", shape=[-1, 64])],
            outputs=[tensor(name="probabilities", datatype="FP32", shape=[-1, 10])],
        )

    async def ModelInfer(  # noqa: N802 - the protocol's name
        self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInferResponse:
        await asyncio.sleep(5)
        return pb.ModelInferResponse()


def test_inference_deadline_is_504(gateway_factory, loop) -> None:  # type: ignore[no-untyped-def]
    # An inference server slower than the deadline (gRPC deadlines are kept to the millisecond:
    # a fast loopback call may meet even a 1 ns one).
    async def start() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server()
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(_SlowInference(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = loop.run(start())
    try:
        url = gateway_factory(inference_target=f"127.0.0.1:{port}", inference_timeout_s=0.05)
        with httpx.Client(base_url=url) as http:
            response = http.post("/v1/predict", json={"instances": [DIGIT]})
        _error(response, 504, "deadline_exceeded", "deadline")
    finally:
        loop.run(server.stop(grace=0))
