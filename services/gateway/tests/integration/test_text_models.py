"""A text model through the gateway and a real inference server, beside a numeric one.

Inference serves the digits file and ``news-classifier`` (the small ONNX news classifier of
``mlops_common.testing.news``, registered with its spec in a real MLflow store). The gateway
predicts ``{"texts": [...]}`` with class names, refuses what the spec or its limits do not
take, logs each instance's text and the values of its ``output:<tensor>:<i>`` columns on
``traffic:news-classifier`` (the text only while ``GATEWAY_STORE_TEXT`` is on), takes feedback
by class name and passes ``BYTES`` tensors through the OIP REST routes.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import redis

from mlops_common.news_spec import NEWS_MODEL_NAME
from mlops_common.redis_keys import TrafficEntry, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.news import CLASSES, news_test_spec, write_news_model
from mlops_common.testing.onnx_models import register_onnx_model
from mlops_inference.model import load_session
from mlops_inference.server import InferenceServer
from mlops_inference.settings import InferenceSettings

from .conftest import BackgroundLoop, GatewayFactory

pytestmark = pytest.mark.slow

NEWS = NEWS_MODEL_NAME
PREDICT = f"/v1/models/{NEWS}/predict"
TEXTS = ["the football match", "shares and profit at the bank", "the election, Minister!"]
WIDTH = news_test_spec().logged_width


@pytest.fixture(scope="module")
def news_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The news model's ONNX file."""
    return write_news_model(tmp_path_factory.mktemp("news-model") / "news.onnx")


@pytest.fixture(scope="module")
def served(
    loop: BackgroundLoop,
    model_path: Path,
    news_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """Inference target serving digits (a file) and news (registered with its spec)."""
    root = tmp_path_factory.mktemp("texts")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    spec = json.loads(news_test_spec().to_json())
    register_onnx_model(uri, news_path, name=NEWS, spec=spec)
    settings = InferenceSettings(
        models=f"{MODEL_NAME}={model_path},{NEWS}",
        mlflow_tracking_uri=uri,
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        watch_redis=False,
        max_batch_wait_ms=0.5,
    )

    async def start() -> InferenceServer:
        server = await InferenceServer.create(settings)
        await server.start()
        return server

    server = loop.run(start())
    yield f"127.0.0.1:{server.port}"
    loop.run(server.stop(grace=0))
    shutil.rmtree(root, ignore_errors=True)


def _client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(200):  # the catalog's first read
            models = client.get("/v1/models").json().get("models", [])
            if any(m["name"] == NEWS and m["ready"] for m in models):
                break
            time.sleep(0.05)
        yield client


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory, served: str) -> Iterator[httpx.Client]:
    """A gateway with the default limits."""
    yield from _client(gateway_factory(inference_target=served, catalog_refresh_s=0.2))


@pytest.fixture(scope="module")
def tight(gateway_factory: GatewayFactory, served: str) -> Iterator[httpx.Client]:
    """A gateway with small limits: 3 texts of 40 characters, 10 characters kept in traffic."""
    url = gateway_factory(
        inference_target=served,
        catalog_refresh_s=0.2,
        max_instances=3,
        max_text_chars=40,
        traffic_text_max_chars=10,
    )
    yield from _client(url)


@pytest.fixture(scope="module")
def textless(gateway_factory: GatewayFactory, served: str) -> Iterator[httpx.Client]:
    """A gateway that keeps no texts in traffic (``GATEWAY_STORE_TEXT=false``)."""
    yield from _client(gateway_factory(inference_target=served, store_text=False))


def model_outputs(path: Path, texts: list[str]) -> dict[str, np.ndarray]:
    """Every output of the news model for ``texts``, from onnxruntime directly."""
    model = load_session(path, NEWS, "v", threads=1)
    return model.predict({"text": np.array(texts, dtype=object)})


def logged(path: Path, texts: list[str]) -> np.ndarray:
    """What traffic should log per text: embedding, n_tokens, oov_share (monitored order)."""
    out = model_outputs(path, texts)
    return np.column_stack([out["embedding"], out["n_tokens"], out["oov_share"]])


def entries(redis_url: str, ids: list[str]) -> list[TrafficEntry]:
    """The traffic entries of the prediction ``ids``, in that order (waits for the flush)."""
    store = redis.Redis.from_url(redis_url)
    found: dict[str, TrafficEntry] = {}
    for _ in range(200):
        for _, fields in store.xrevrange(traffic_stream(NEWS), count=500):
            entry = TrafficEntry.decode(fields, width=WIDTH)
            if entry.id in ids:
                found[entry.id] = entry
        if len(found) == len(ids):
            return [found[i] for i in ids]
        time.sleep(0.025)
    raise AssertionError(f"traffic entries of {ids} not found; saw {sorted(found)}")


def test_texts_are_predicted_with_class_names(gateway: httpx.Client, news_path: Path) -> None:
    listed = {m["name"]: m for m in gateway.get("/v1/models").json()["models"]}
    assert listed[NEWS]["spec"]["input"] == {
        "kind": "text", "tensor": "text", "datatype": "BYTES", "shape": [-1],
    }  # fmt: skip
    response = gateway.post(PREDICT, json={"texts": TEXTS})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": NEWS, "version": "1"}
    labels = [p["label"] for p in body["predictions"]]
    assert labels == ["sports", "business", "politics"]
    want = model_outputs(news_path, TEXTS)["probabilities"]
    for prediction, probabilities in zip(body["predictions"], want, strict=True):
        assert prediction["class_index"] == CLASSES.index(prediction["label"])
        np.testing.assert_allclose(prediction["probabilities"], probabilities, rtol=1e-5)
        assert prediction["confidence"] == pytest.approx(float(probabilities.max()), rel=1e-5)
    # Any text goes: empty, unknown words, non-ASCII.
    odd = gateway.post(PREDICT, json={"texts": ["", "zzz qqq", "Fußball-Match ⚽"]})
    assert odd.status_code == 200, odd.text
    assert len(odd.json()["predictions"]) == 3


@pytest.mark.parametrize(
    ("model", "body", "status", "code", "words"),
    [
        (NEWS, {"texts": []}, 422, "validation_error", "texts: List should have at least 1"),
        (NEWS, {"texts": ["ok", 5]}, 422, "validation_error", "texts.1: Input should be a valid"),
        (NEWS, {"texts": "the match"}, 422, "validation_error", "texts: Input should be a valid"),
        (NEWS, {"texts": ["a"], "instances": [[1.0]]}, 422, "validation_error", "exactly one"),
        (NEWS, {"instances": [[0.5] * 4]}, 422, "invalid_input", "takes text, not 'instances'"),
        (NEWS, {"images": ["aGVsbG8="]}, 422, "invalid_input", "send 'texts'"),
        (MODEL_NAME, {"texts": ["the match"]}, 422, "invalid_input", "not 'texts'"),
    ],
)
def test_what_a_text_model_does_not_take_is_refused(
    gateway: httpx.Client, model: str, body: dict, status: int, code: str, words: str
) -> None:
    response = gateway.post(f"/v1/models/{model}/predict", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert words in response.json()["error"]["message"]


def test_the_count_and_length_limits_are_413_naming_the_text(tight: httpx.Client) -> None:
    too_many = tight.post(PREDICT, json={"texts": ["a", "b", "c", "d"]})
    assert too_many.status_code == 413, too_many.text
    assert too_many.json()["error"] == {
        "code": "payload_too_large",
        "message": "4 texts in one request; the limit is 3 (GATEWAY_MAX_INSTANCES)",
    }
    too_long = tight.post(PREDICT, json={"texts": ["short", "x" * 41]})
    assert too_long.status_code == 413, too_long.text
    assert too_long.json()["error"]["code"] == "text_too_long"
    assert too_long.json()["error"]["message"].startswith("text 1 has 41 characters; the limit")
    assert tight.post(PREDICT, json={"texts": ["x" * 40] * 3}).status_code == 200


def test_a_lone_surrogate_is_422_naming_the_text(gateway: httpx.Client) -> None:
    body = b'{"texts": ["fine", "bad \\ud800 text"]}'
    response = gateway.post(PREDICT, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_text"
    assert response.json()["error"]["message"].startswith("text 1 is not valid Unicode")


def test_traffic_logs_the_text_and_the_models_values(
    gateway: httpx.Client, tight: httpx.Client, news_path: Path, redis_url: str
) -> None:
    response = gateway.post(PREDICT, json={"texts": TEXTS})
    assert response.status_code == 200, response.text
    ids = [p["id"] for p in response.json()["predictions"]]
    got = entries(redis_url, ids)
    assert [e.text for e in got] == TEXTS
    assert [e.label for e in got] == [CLASSES.index(n) for n in ("sports", "business", "politics")]
    want = logged(news_path, TEXTS)
    assert want.shape == (3, WIDTH)
    np.testing.assert_allclose(np.stack([e.features for e in got]), want, rtol=1e-6)
    assert [e.features[-2] for e in got] == [3.0, 6.0, 3.0]  # n_tokens
    # A text longer than GATEWAY_TRAFFIC_TEXT_MAX_CHARS is kept cut; its values are the whole's.
    long_text = "football match goal champion"
    cut = tight.post(PREDICT, json={"texts": [long_text]})
    assert cut.status_code == 200, cut.text
    (entry,) = entries(redis_url, [cut.json()["predictions"][0]["id"]])
    assert entry.text == long_text[:10]
    np.testing.assert_allclose(entry.features, logged(news_path, [long_text])[0], rtol=1e-6)


def test_no_text_is_stored_when_turned_off(
    textless: httpx.Client, news_path: Path, redis_url: str
) -> None:
    response = textless.post(PREDICT, json={"texts": TEXTS[:2]})
    assert response.status_code == 200, response.text
    got = entries(redis_url, [p["id"] for p in response.json()["predictions"]])
    assert [e.text for e in got] == [None, None]
    np.testing.assert_allclose(
        np.stack([e.features for e in got]), logged(news_path, TEXTS[:2]), rtol=1e-6
    )


def test_feedback_takes_class_names_of_a_text_prediction(gateway: httpx.Client) -> None:
    response = gateway.post(PREDICT, json={"texts": ["the football match"]})
    assert response.status_code == 200, response.text
    prediction = response.json()["predictions"][0]
    stored = gateway.post("/v1/feedback", json={"id": prediction["id"], "label": "tech"})
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"id": prediction["id"], "label": CLASSES.index("tech"), "model": NEWS}
    refused = gateway.post("/v1/feedback", json={"id": prediction["id"], "label": "weather"})
    assert refused.status_code == 422
    assert "'business', 'entertainment', 'politics', 'sports', 'tech'" in refused.text
    by_request = gateway.post(
        PREDICT, json={"texts": ["new film award"]}, headers={"X-Request-ID": "news-req-1"}
    )
    assert by_request.status_code == 200, by_request.text
    again = gateway.post("/v1/feedback", json={"id": "news-req-1", "label": "entertainment"})
    assert again.status_code == 200, again.text
    assert again.json()["model"] == NEWS


def test_oip_rest_passes_bytes_inputs_through(gateway: httpx.Client, news_path: Path) -> None:
    body = {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": TEXTS[:2]}]}
    response = gateway.post(f"/v2/models/{NEWS}/infer", json=body)
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    assert list(outputs) == ["probabilities", "embedding", "n_tokens", "oov_share"]
    want = model_outputs(news_path, TEXTS[:2])
    for name, array in want.items():
        assert outputs[name]["shape"] == list(array.shape)
        np.testing.assert_allclose(outputs[name]["data"], array.reshape(-1), rtol=1e-5)
    named = gateway.post(
        f"/v2/models/{NEWS}/infer", json={**body, "outputs": [{"name": "n_tokens"}]}
    )
    assert [o["name"] for o in named.json()["outputs"]] == ["n_tokens"]
    meta = gateway.get(f"/v2/models/{NEWS}").json()
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    for data, words in (([1, 2], "BYTES data holds strings, not int"), (["a"], "1 strings")):
        bad = {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": data}]}
        refused = gateway.post(f"/v2/models/{NEWS}/infer", json=bad)
        assert refused.status_code == 400, refused.text
        assert words in refused.json()["error"]["message"]
