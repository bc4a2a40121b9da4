"""A Redis at its ``maxmemory`` (the chart sets one, ``noeviction``): it refuses writes, and the
gateway keeps answering predictions, counts the traffic it could not log, answers feedback 503
with the error shape, and logs again once Redis has room; feedback on a prediction whose traffic
was dropped then answers 404 saying so."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import redis

from mlops_common.redis_keys import FEEDBACK_HASH, traffic_stream
from mlops_common.testing.servers import RedisServer

from .conftest import GatewayFactory, metric_value

DIGIT = [3.0] * 64
MODEL = "digits-classifier"


def _dropped(client: httpx.Client) -> float:
    return metric_value(client.get("/metrics").text, "gateway_traffic_dropped_total")


def _until(check: Callable[[], object], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_full_redis_refuses_writes_and_predictions_go_on(
    gateway_factory: GatewayFactory, redis_server: RedisServer
) -> None:
    db = redis.Redis.from_url(redis_server.url)
    url = gateway_factory(redis_url=redis_server.url)
    with httpx.Client(base_url=url, timeout=10) as client:
        logged = client.post("/v1/predict", json={"instances": [DIGIT]}).json()
        logged_id = logged["predictions"][0]["id"]
        assert _until(lambda: db.xlen(traffic_stream(MODEL)) == 1)

        db.config_set("maxmemory-policy", "noeviction")
        db.config_set("maxmemory", 1)  # below what it holds: every write is refused (OOM)
        try:
            answers = [client.post("/v1/predict", json={"instances": [DIGIT]}) for _ in range(5)]
            assert [a.status_code for a in answers] == [200] * 5
            dropped_id = answers[0].json()["predictions"][0]["id"]
            assert _until(lambda: _dropped(client) >= 5)
            assert db.xlen(traffic_stream(MODEL)) == 1  # nothing half-written

            feedback = client.post("/v1/feedback", json={"id": logged_id, "label": 3})
            assert feedback.status_code == 503
            assert feedback.json()["error"]["code"] == "redis_unavailable"
            assert "maxmemory" in feedback.json()["error"]["message"]
            assert db.hget(FEEDBACK_HASH, logged_id) is None
        finally:
            db.config_set("maxmemory", 0)

        client.post("/v1/predict", json={"instances": [DIGIT]}).raise_for_status()
        assert _until(lambda: db.xlen(traffic_stream(MODEL)) == 2)  # logging resumed
        assert client.post("/v1/feedback", json={"id": logged_id, "label": 3}).status_code == 200
        unlogged = client.post("/v1/feedback", json={"id": dropped_id, "label": 3})
        assert unlogged.status_code == 404  # its traffic was dropped: nothing to join it to
        assert "not logged" in unlogged.json()["error"]["message"]
        assert db.hget(FEEDBACK_HASH, dropped_id) is None
    db.close()
