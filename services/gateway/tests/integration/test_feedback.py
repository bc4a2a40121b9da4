"""``POST /v1/feedback``: known ids get their label stored, unknown ids are 404."""

from __future__ import annotations

import uuid

import httpx
import pytest
import redis

from mlops_common.redis_keys import FEEDBACK_HASH
from mlops_common.testing.traffic import indexed_prediction

DIGIT = [3.0] * 64
MODEL = "digits-classifier"


def test_feedback_right_after_a_prediction_is_stored(client: httpx.Client, redis_url: str) -> None:
    body = client.post("/v1/predict", json={"instances": [DIGIT, DIGIT]}).json()
    prediction_id = body["predictions"][1]["id"]
    response = client.post("/v1/feedback", json={"id": prediction_id, "label": 7})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": prediction_id, "label": 7, "model": MODEL}
    assert redis.Redis.from_url(redis_url).hget(FEEDBACK_HASH, prediction_id) == b"7"


def test_request_id_of_a_one_instance_request_is_accepted(
    client: httpx.Client, redis_url: str
) -> None:
    body = client.post("/v1/predict", json={"instances": [DIGIT]}).json()
    response = client.post("/v1/feedback", json={"id": body["request_id"], "label": 2})
    assert response.status_code == 200, response.text
    prediction_id = body["predictions"][0]["id"]
    assert response.json()["id"] == prediction_id
    assert redis.Redis.from_url(redis_url).hget(FEEDBACK_HASH, prediction_id) == b"2"


def test_a_one_instance_request_is_its_own_prediction_id(
    client: httpx.Client, redis_url: str
) -> None:
    """The gateway made the request id (unique): it names the prediction, one index field."""
    body = client.post("/v1/predict", json={"instances": [DIGIT]}).json()
    assert body["predictions"][0]["id"] == body["request_id"]
    response = client.post("/v1/feedback", json={"id": body["request_id"], "label": 4})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": body["request_id"], "label": 4, "model": MODEL}
    store = redis.Redis.from_url(redis_url)
    found = indexed_prediction(store, body["request_id"], 7 * 24 * 3600)
    assert found is not None
    assert found[0] == body["request_id"]


def test_a_client_request_id_gets_its_own_prediction_id_and_an_alias(
    client: httpx.Client, redis_url: str
) -> None:
    """A client's X-Request-ID may repeat: the prediction gets a fresh id; both names work."""
    request_id = f"client-{uuid.uuid4().hex[:8]}"
    body = client.post(
        "/v1/predict", json={"instances": [DIGIT]}, headers={"X-Request-ID": request_id}
    ).json()
    prediction_id = body["predictions"][0]["id"]
    assert body["request_id"] == request_id != prediction_id
    response = client.post("/v1/feedback", json={"id": request_id, "label": 5})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": prediction_id, "label": 5, "model": MODEL}
    store = redis.Redis.from_url(redis_url)
    for name in (request_id, prediction_id):
        found = indexed_prediction(store, name, 7 * 24 * 3600)
        assert found is not None
        assert found[0] == prediction_id


def test_labels_may_be_class_names_and_must_be_classes_of_the_model(
    client: httpx.Client, redis_url: str
) -> None:
    body = client.post("/v1/predict", json={"instances": [DIGIT, DIGIT]}).json()
    first, second = (p["id"] for p in body["predictions"])
    named = client.post("/v1/feedback", json={"id": first, "label": "8"})
    assert named.status_code == 200, named.text
    assert named.json() == {"id": first, "label": 8, "model": MODEL}
    assert redis.Redis.from_url(redis_url).hget(FEEDBACK_HASH, first) == b"8"
    for label, words in ((10, "0..9"), ("cat", "'cat' is not a class")):
        response = client.post("/v1/feedback", json={"id": second, "label": label})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_label"
        assert words in response.json()["error"]["message"]
    assert redis.Redis.from_url(redis_url).hget(FEEDBACK_HASH, second) is None


def test_request_id_of_a_many_instance_request_is_404(client: httpx.Client) -> None:
    body = client.post("/v1/predict", json={"instances": [DIGIT, DIGIT]}).json()
    response = client.post("/v1/feedback", json={"id": body["request_id"], "label": 2})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unknown_id_is_404(client: httpx.Client) -> None:
    response = client.post("/v1/feedback", json={"id": uuid.uuid4().hex, "label": 1})
    assert response.status_code == 404
    assert "unknown" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "payload",
    [{"id": "x", "label": -1}, {"id": "x", "label": ""}, {"id": "", "label": 1}, {"label": 1}],
)
def test_bad_feedback_is_422(client: httpx.Client, payload: dict) -> None:
    response = client.post("/v1/feedback", json=payload)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
