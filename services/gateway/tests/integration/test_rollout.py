"""``GET|POST /v1/models/{name}/rollout`` against real parts: the gateway over HTTP, the shared
real ``redis-server`` and a real MLflow store (sqlite) whose model has versions 1, 2
(``production``) and 3 (``staging``), plus a model with one version and no candidate.

Shadow records are written to ``shadow:<model>`` with ``XADD`` as inference writes them (an
entry per candidate batch, :func:`~mlops_common.shadow.encode_batch`), and
feedback labels to the ``feedback`` hash, so the figures the route answers are checked against
hand-computed ones.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from mlops_common.redis_keys import FEEDBACK_HASH
from mlops_common.rollout import Probation, rollout_key, rollout_log_key
from mlops_common.shadow import ShadowRecord, encode_batch, shadow_stream
from mlops_common.testing.onnx_models import register_onnx_model
from mlops_gateway.rollout_store import RolloutStore

from .conftest import ADMIN_KEY, GatewayFactory

pytestmark = pytest.mark.slow

MODEL = "rollout-digits"
SOLO = "rollout-solo"
ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> str:
    """``MODEL``: v1, v2 (production), v3 (staging); ``SOLO``: v1 (production)."""
    root = tmp_path_factory.mktemp("rollout")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    register_onnx_model(uri, model_path, alias=None, name=MODEL)
    register_onnx_model(uri, model_path, alias="production", name=MODEL)
    register_onnx_model(uri, model_path, alias="staging", name=MODEL)
    register_onnx_model(uri, model_path, alias="production", name=SOLO)
    return uri


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory, registry: str) -> Iterator[httpx.Client]:
    url = gateway_factory(mlflow_tracking_uri=registry)
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture
def store(redis_url: str) -> Iterator[redis.Redis]:
    """The shared Redis, with this module's models' rollout keys cleared."""
    with redis.Redis.from_url(redis_url) as client:
        for name in (MODEL, SOLO):
            client.delete(rollout_key(name), rollout_log_key(name), shadow_stream(name))
        yield client


def _act(gateway: httpx.Client, body: dict[str, Any], name: str = MODEL) -> httpx.Response:
    return gateway.post(f"/v1/models/{name}/rollout", json=body, headers=ADMIN)


def _record(
    rid: str, prod: list[int], cand: list[int], ms: float, pair: tuple[str, str], cand_ms: float
) -> ShadowRecord:
    return ShadowRecord(
        request_id=rid,
        production_version=pair[0],
        candidate_version=pair[1],
        production_labels=prod,
        production_confidences=[0.9] * len(prod),
        candidate_labels=cand,
        candidate_confidences=[0.7] * len(cand),
        production_ms=ms,
        candidate_ms=cand_ms,
    )


def _entry(*records: ShadowRecord) -> Any:
    """The fields of one stream entry: a candidate batch of ``records``."""
    return encode_batch(records)


def test_a_model_without_candidate_has_no_stats(gateway: httpx.Client, store: redis.Redis) -> None:
    body = gateway.get(f"/v1/models/{SOLO}/rollout").json()
    assert body["model"] == SOLO
    assert body["production"] == {"version": "1"}
    assert body["candidate"] is None
    assert body["stats"] is None
    assert body["shadow"] == {"enabled": True, "share": None}
    assert body["pinned"] is None
    assert body["probation"] is None
    assert body["decisions"] == []


def test_stats_join_shadow_records_with_feedback(gateway: httpx.Client, store: redis.Redis) -> None:
    run = uuid.uuid4().hex[:8]
    a, b, c = (f"{run}-{x}" for x in "abc")
    stream = shadow_stream(MODEL)
    pair = ("2", "3")
    store.xadd(
        stream, _entry(_record(a, [1], [1], 2.0, pair, 8.0), _record(c, [5], [6], 6.0, pair, 8.0))
    )
    store.xadd(stream, _entry(_record(b, [2, 3], [2, 4], 4.0, pair, 10.0)))
    store.xadd(stream, _entry(_record(f"{run}-old", [0], [9], 1.0, ("1", "3"), 2.0)))  # older pair
    store.xadd(stream, {"ids": "garbage", "ts": "not a time"})
    store.hset(FEEDBACK_HASH, mapping={a: "1", f"{b}.0": "2", f"{b}.1": "4", c: "x"})
    store.lpush(rollout_log_key(MODEL), "not json")

    body = gateway.get(f"/v1/models/{MODEL}/rollout").json()
    assert body["production"] == {"version": "2"}
    assert body["candidate"] == {"version": "3"}
    stats = body["stats"]
    assert (stats["requests"], stats["rows"]) == (3, 4)
    assert stats["agreement"] == pytest.approx(0.5)
    production, candidate = stats["production"], stats["candidate"]
    assert (production["version"], production["labelled"]) == ("2", 3)
    assert production["accuracy"] == pytest.approx(2 / 3)
    assert candidate["accuracy"] == pytest.approx(1.0)
    assert production["mean_confidence"] == pytest.approx(0.9)
    assert candidate["mean_confidence"] == pytest.approx(0.7)
    assert production["p50_ms"] == pytest.approx(4.0)
    assert candidate["p50_ms"] == pytest.approx(8.0)  # 8, 8 (one batch), 10
    assert body["skipped"] == {"shadow": 1, "feedback": 1, "decisions": 1}


def test_the_store_reads_entries_until_its_window_of_records(
    store: redis.Redis, redis_url: str
) -> None:
    """Entries hold several records: the window counts records, read page after page."""
    run = uuid.uuid4().hex[:8]
    stream = shadow_stream(MODEL)
    for batch in range(10):  # 10 entries of 3 records, request ids 0..29 oldest first
        ids = range(3 * batch, 3 * batch + 3)
        store.xadd(
            stream, _entry(*(_record(f"{run}-{i}", [1], [1], 1.0, ("2", "3"), 2.0) for i in ids))
        )

    async def read(window: int) -> Any:
        client = aioredis.Redis.from_url(redis_url)
        try:
            return await RolloutStore(client, window=window).read(MODEL, "2", "3")
        finally:
            await client.aclose()

    snapshot = asyncio.run(read(20))  # more entries than the first page of two
    assert snapshot.stats is not None
    assert snapshot.stats.requests == 20
    assert asyncio.run(read(100)).stats.requests == 30  # the stream runs out first


def test_shadow_action_sets_the_fields_and_is_logged(
    gateway: httpx.Client, store: redis.Redis
) -> None:
    answer = _act(gateway, {"action": "shadow", "enabled": False, "share": 0.25})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["shadow"] == {"enabled": False, "share": 0.25}
    assert store.hget(rollout_key(MODEL), "shadow") == b"off"
    assert float(store.hget(rollout_key(MODEL), "shadow_share") or 0) == 0.25
    decision = body["decisions"][0]
    assert (decision["action"], decision["by"]) == ("shadow", "admin")
    assert "shadow off, share 0.25" in decision["reason"]
    again = _act(gateway, {"action": "shadow", "enabled": True, "reason": "ready"}).json()
    assert again["shadow"] == {"enabled": True, "share": 0.25}
    assert [d["action"] for d in again["decisions"]] == ["shadow", "shadow"]
    assert store.llen(rollout_log_key(MODEL)) == 2


def test_end_probation_is_409_without_one_and_clears_an_active_one(
    gateway: httpx.Client, store: redis.Redis
) -> None:
    refused = _act(gateway, {"action": "end_probation"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "no_active_probation"
    now = time.time()
    probation = Probation(version="2", previous="1", started=now - 60, until=now + 3600)
    store.hset(rollout_key(MODEL), "probation", probation.model_dump_json())
    shown = gateway.get(f"/v1/models/{MODEL}/rollout").json()["probation"]
    assert (shown["version"], shown["previous"], shown["active"]) == ("2", "1", True)

    body = _act(gateway, {"action": "end_probation"}).json()
    assert body["probation"] is None
    assert not store.hexists(rollout_key(MODEL), "probation")
    decision = body["decisions"][0]
    assert (decision["action"], decision["version"], decision["previous"]) == (
        "probation_ended",
        "2",
        "1",
    )


def test_pin_promotes_a_version_that_is_not_production_and_unpin_clears_it(
    gateway: httpx.Client, store: redis.Redis
) -> None:
    try:
        body = _act(gateway, {"action": "pin", "version": "3"}).json()
        assert body["production"] == {"version": "3"}
        assert body["candidate"] is None  # staging is production now
        assert body["pinned"] == "3"
        pinned = body["decisions"][0]
        assert (pinned["action"], pinned["version"], pinned["previous"]) == ("pinned", "3", "2")
        assert gateway.get(f"/v1/models/{MODEL}").json()["versions"][0]["aliases"] == [
            "production",
            "staging",
        ]

        same = _act(gateway, {"action": "pin", "version": "3"}).json()
        assert same["decisions"][0]["previous"] is None  # already production: not promoted

        body = _act(gateway, {"action": "unpin"}).json()
        assert body["pinned"] is None
        assert not store.hexists(rollout_key(MODEL), "pinned")
        assert body["decisions"][0]["action"] == "unpinned"
        assert body["decisions"][0]["version"] == "3"
    finally:
        back = gateway.post(f"/v1/models/{MODEL}/promote", json={"version": "2"}, headers=ADMIN)
        assert back.status_code == 200, back.text


def test_actions_need_the_admin_key(gateway: httpx.Client, store: redis.Redis) -> None:
    url = f"/v1/models/{MODEL}/rollout"
    body = {"action": "unpin"}
    missing = gateway.post(url, json=body)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = gateway.post(url, json=body, headers={"X-API-Key": "not-the-key"})
    assert wrong.status_code == 403
    assert store.llen(rollout_log_key(MODEL)) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"action": "canary", "share": 0.1},
        {"action": "shadow", "enabled": True, "share": 1.5},
        {"action": "shadow"},
        {"action": "pin"},
        {"action": "pin", "version": "three"},
        {"action": "unpin", "extra": 1},
        {},
    ],
)
def test_a_bad_body_is_422_in_the_error_shape(gateway: httpx.Client, body: dict[str, Any]) -> None:
    answer = _act(gateway, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_error"


def test_unknown_model_or_version_is_404(gateway: httpx.Client, store: redis.Redis) -> None:
    unknown = gateway.get("/v1/models/no-such-model/rollout")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert _act(gateway, {"action": "unpin"}, name="no-such-model").status_code == 404
    version = _act(gateway, {"action": "pin", "version": "99"})
    assert version.status_code == 404
    assert set(version.json()) == {"error"}
    assert store.hget(rollout_key(MODEL), "pinned") is None
    assert json.loads(gateway.get(f"/v1/models/{MODEL}/rollout").text)["decisions"] == []
