"""Model info and promotion through a real MLflow registry; drift through a real HTTP service."""

from __future__ import annotations

import threading
import time

import httpx
import redis
from mlflow import MlflowClient

from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent
from mlops_common.registry import MODEL_NAME

from .conftest import ADMIN_KEY, FakeDrift

ADMIN = {"X-API-Key": ADMIN_KEY}


def test_serving_model_has_version_and_metadata(client: httpx.Client) -> None:
    response = client.get("/v1/model")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == MODEL_NAME
    assert body["version"] == "2"  # the file served is not registered: production answers
    assert "production" in body["aliases"]
    assert body["created_at"]


def test_models_lists_the_served_models_with_their_specs(client: httpx.Client) -> None:
    body = client.get("/v1/models").json()
    assert body["default"] == MODEL_NAME
    (served,) = body["models"]
    assert (served["name"], served["ready"], served["reason"]) == (MODEL_NAME, True, None)
    # A served file without a spec, in the digits layout, is read with the digits spec.
    assert served["spec"]["input"]["shape"] == [-1, 64]
    assert served["spec"]["input"]["range"] == [0.0, 16.0]
    assert served["spec"]["output"]["classes"] == [str(c) for c in range(10)]
    assert served["trainable"] is True


def test_a_model_lists_its_versions_newest_first(client: httpx.Client) -> None:
    body = client.get(f"/v1/models/{MODEL_NAME}").json()
    assert body["name"] == MODEL_NAME
    assert [v["version"] for v in body["versions"]][:2] == ["2", "1"]
    assert body["spec"]["name"] == MODEL_NAME
    unknown = client.get("/v1/models/ghost")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"


def test_models_show_each_versions_aliases(client: httpx.Client, registry_uri: str) -> None:
    registry = MlflowClient(tracking_uri=registry_uri, registry_uri=registry_uri)
    registry.set_registered_model_alias(MODEL_NAME, "staging", "1")
    try:
        body = client.get(f"/v1/models/{MODEL_NAME}").json()
    finally:
        registry.delete_registered_model_alias(MODEL_NAME, "staging")
    aliases = {v["version"]: v["aliases"] for v in body["versions"]}
    assert aliases["2"] == ["production"]
    assert aliases["1"] == ["staging"]


def test_promote_moves_the_alias_and_announces_it(
    client: httpx.Client, registry_uri: str, redis_url: str
) -> None:
    events: list[ModelEvent] = []
    subscriber = redis.Redis.from_url(redis_url).pubsub()
    subscriber.subscribe(MODEL_EVENTS_CHANNEL)
    subscriber.get_message(timeout=1)  # the subscribe confirmation

    def listen() -> None:
        message = subscriber.get_message(timeout=10, ignore_subscribe_messages=True)
        if message:
            events.append(ModelEvent.decode(message["data"]))

    listener = threading.Thread(target=listen)
    listener.start()
    response = client.post("/v1/model/promote", json={"version": "1"}, headers=ADMIN)
    listener.join()
    try:
        assert response.status_code == 200, response.text
        assert response.json() == {
            "name": MODEL_NAME,
            "version": "1",
            "previous_version": "2",
            "alias": "production",
            "event_published": True,
        }
        registry = MlflowClient(tracking_uri=registry_uri, registry_uri=registry_uri)
        assert str(registry.get_model_version_by_alias(MODEL_NAME, "production").version) == "1"
        assert [(e.name, e.version, e.alias) for e in events] == [(MODEL_NAME, "1", "production")]
    finally:  # roll back to version 2 for the other tests
        back = client.post("/v1/model/promote", json={"version": "2"}, headers=ADMIN)
        assert back.status_code == 200
        assert back.json()["previous_version"] == "1"


def test_promote_unknown_version_is_404(client: httpx.Client) -> None:
    response = client.post("/v1/model/promote", json={"version": "999"}, headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_promote_bad_version_is_422(client: httpx.Client) -> None:
    response = client.post("/v1/model/promote", json={"version": "latest"}, headers=ADMIN)
    assert response.status_code == 422


def test_registry_down_is_503(gateway_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # MLflow's own HTTP policy, as the gateway's image and Procfile set it.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    url = gateway_factory(mlflow_tracking_uri="http://127.0.0.1:9/")
    with httpx.Client(base_url=url, timeout=60) as http:
        start = time.monotonic()
        response = http.get(f"/v1/models/{MODEL_NAME}")
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "registry_unavailable"
    assert time.monotonic() - start < 60


def test_drift_verdict_is_forwarded(client: httpx.Client, drift_service: FakeDrift) -> None:
    response = client.get("/v1/drift")
    assert response.status_code == 200, response.text
    assert response.json() == drift_service.verdict


def test_drift_down_is_503(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    from mlops_common.testing.servers import free_port

    url = gateway_factory(drift_url=f"http://127.0.0.1:{free_port()}")
    with httpx.Client(base_url=url) as http:
        response = http.get("/v1/drift")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "drift_unavailable"
    assert "unreachable" in response.json()["error"]["message"]
