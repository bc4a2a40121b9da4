"""Many models through one gateway and one real inference server: each checked by its own spec.

Inference serves the digits file, an outside 4-feature, 3-class model registered with its spec in
a real MLflow store, and a corrupt file. The gateway lists them, predicts by name with class names,
refuses what a model's spec does not take, logs each model's traffic to its own stream, and follows
a new version of the outside model under load without a failed request.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import redis

from mlops_common.redis_keys import TrafficEntry, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.iris import CLASSES, NAME, expected, iris_spec, write_iris_model
from mlops_common.testing.onnx_models import register_onnx_model, write_broken_model
from mlops_inference.server import InferenceServer
from mlops_inference.settings import InferenceSettings

from .conftest import ADMIN_KEY, BackgroundLoop, GatewayFactory

pytestmark = pytest.mark.slow

BROKEN = "broken-model"
DIGIT = [0.0] * 28 + [16.0] * 8 + [0.0] * 28


@pytest.fixture(scope="module")
def served(
    loop: BackgroundLoop,
    model_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    """(inference target, MLflow URI): digits (a file), iris (registered with its spec), broken."""
    root = tmp_path_factory.mktemp("many")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    register_onnx_model(uri, write_iris_model(root / "iris1.onnx"), name=NAME, spec=iris_spec())
    broken = write_broken_model(root / "broken.onnx")
    settings = InferenceSettings(
        models=f"{MODEL_NAME}={model_path},{NAME},{BROKEN}={broken}",
        mlflow_tracking_uri=uri,
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        watch_redis=False,
        poll_interval_s=0.2,
        max_batch_wait_ms=0.5,
    )

    async def start() -> InferenceServer:
        server = await InferenceServer.create(settings)
        await server.start()
        return server

    server = loop.run(start())
    yield f"127.0.0.1:{server.port}", uri
    loop.run(server.stop(grace=0))
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory, served: tuple[str, str]) -> Iterator[httpx.Client]:
    target, uri = served
    url = gateway_factory(inference_target=target, mlflow_tracking_uri=uri, catalog_refresh_s=0.2)
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(100):  # the catalog's first read
            models = client.get("/v1/models").json()["models"]
            if any(m["name"] == NAME and m["ready"] for m in models):
                break
            time.sleep(0.05)
        yield client


def test_the_served_models_are_listed_with_their_specs_and_states(gateway: httpx.Client) -> None:
    body = gateway.get("/v1/models").json()
    assert body["default"] == MODEL_NAME
    models = {m["name"]: m for m in body["models"]}
    assert list(models) == [MODEL_NAME, NAME, BROKEN]
    assert models[NAME]["ready"]
    assert models[NAME]["version"] == "1"
    assert models[NAME]["spec"]["output"]["classes"] == CLASSES
    assert models[NAME]["trainable"] is False
    assert models[MODEL_NAME]["ready"]
    assert not models[BROKEN]["ready"]
    assert "onnxruntime refused" in models[BROKEN]["reason"]


def test_a_model_predicts_by_name_with_class_names(gateway: httpx.Client) -> None:
    rows = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)
    response = gateway.post(f"/v1/models/{NAME}/predict", json={"instances": rows.tolist()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": NAME, "version": "1"}
    want = expected(rows)
    for prediction, probabilities in zip(body["predictions"], want, strict=True):
        index = int(probabilities.argmax())
        assert (prediction["label"], prediction["class_index"]) == (CLASSES[index], index)
        np.testing.assert_allclose(prediction["probabilities"], probabilities, rtol=1e-5)
    # The digits model answers beside it, with its class names ("0".."9").
    digits = gateway.post(f"/v1/models/{MODEL_NAME}/predict", json={"instances": [DIGIT]})
    assert digits.status_code == 200, digits.text
    assert digits.json()["predictions"][0]["label"] in [str(c) for c in range(10)]


@pytest.mark.parametrize(
    ("model", "body", "status", "code", "words"),
    [
        (NAME, {"instances": [[0.1] * 5]}, 422, "invalid_features", "has 5 values; expected 4"),
        (NAME, {"instances": [[0.1, 0.2, None, 0.3]]}, 422, "validation_error", ""),
        (NAME, {"images": ["aGVsbG8="]}, 422, "invalid_input", "takes no images"),
        (MODEL_NAME, {"instances": [[17.0] * 64]}, 422, "invalid_features", "0..16"),
        ("ghost", {"instances": [[0.1] * 4]}, 404, "model_not_found", "iris-classifier"),
        (BROKEN, {"instances": [[0.1] * 4]}, 503, "model_not_ready", "onnxruntime refused"),
        ("bad name!", {"instances": [[0.1] * 4]}, 422, "validation_error", ""),
    ],
)
def test_what_a_spec_does_not_take_is_refused_with_a_reason(
    gateway: httpx.Client, model: str, body: dict, status: int, code: str, words: str
) -> None:
    response = gateway.post(f"/v1/models/{model}/predict", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert words in response.json()["error"]["message"]


def test_traffic_goes_to_the_models_own_stream_and_feedback_takes_class_names(
    gateway: httpx.Client, redis_url: str
) -> None:
    store = redis.Redis.from_url(redis_url)
    before = store.xlen(traffic_stream(NAME))
    response = gateway.post(f"/v1/models/{NAME}/predict", json={"instances": [[0.5] * 4] * 3})
    assert response.status_code == 200, response.text
    first = response.json()["predictions"][0]["id"]
    stored = gateway.post("/v1/feedback", json={"id": first, "label": "virginica"})
    assert stored.json() == {"id": first, "label": 2, "model": NAME}
    assert store.xlen(traffic_stream(NAME)) == before + 3
    (_, fields), *_ = store.xrevrange(traffic_stream(NAME), count=1)
    assert TrafficEntry.decode(fields, width=4).features.tolist() == [0.5] * 4
    refused = gateway.post("/v1/feedback", json={"id": first, "label": "rose"})
    assert refused.status_code == 422
    assert "'setosa', 'versicolor', 'virginica'" in refused.json()["error"]["message"]


def test_retraining_an_imported_model_is_409(gateway: httpx.Client) -> None:
    response = gateway.post(f"/v1/models/{NAME}/retrain", json={}, headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_trainable"


@pytest.mark.usefixtures("short_gc_pauses")
def test_a_new_version_is_followed_under_load_with_no_failure(
    gateway: httpx.Client, served: tuple[str, str], tmp_path: Path
) -> None:
    _, uri = served
    rows = np.random.default_rng(5).normal(size=(50, 4)).astype(np.float32).tolist()

    async def load(stop: asyncio.Event) -> tuple[int, list[str], set[str]]:
        ok, failures, versions = 0, [], set()
        async with httpx.AsyncClient(base_url=str(gateway.base_url), timeout=10) as client:

            async def one(i: int) -> None:
                nonlocal ok
                response = await client.post(
                    f"/v1/models/{NAME}/predict", json={"instances": [rows[i % 50]]}
                )
                if response.status_code == 200:
                    ok += 1
                    versions.add(response.json()["model"]["version"])
                else:
                    failures.append(f"{response.status_code} {response.text[:200]}")

            i = 0
            while not stop.is_set() or "2" not in versions:
                await asyncio.gather(*(one(i + k) for k in range(4)))
                i += 4
                if i > 20_000:
                    break
        return ok, failures, versions

    async def scenario() -> tuple[int, list[str], set[str]]:
        stop = asyncio.Event()
        task = asyncio.create_task(load(stop))
        await asyncio.sleep(0.3)
        path = write_iris_model(tmp_path / "iris2.onnx", seed=1)
        await asyncio.to_thread(register_onnx_model, uri, path, name=NAME, spec=iris_spec())
        stop.set()
        return await asyncio.wait_for(task, 60)

    ok, failures, versions = asyncio.run(scenario())
    assert failures == []
    assert {"1", "2"} <= versions
    assert ok > 50
    for _ in range(100):  # the catalog follows within a refresh or two
        listed = {m["name"]: m for m in gateway.get("/v1/models").json()["models"]}
        if listed[NAME]["version"] == "2":
            break
        time.sleep(0.05)
    assert listed[NAME]["version"] == "2"
