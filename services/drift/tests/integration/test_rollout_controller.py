"""The rollout controller against a real Redis and a real MLflow registry: probation and
automatic rollback, and the live-evidence gate on a shadowed candidate."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from mlflow import MlflowClient
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from mlops_common import promotion
from mlops_common.redis_keys import FEEDBACK_HASH, MODEL_EVENTS_CHANNEL, TrafficEntry
from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING, MODEL_NAME
from mlops_common.rollout import RolloutDecision, RolloutState, rollout_key, rollout_log_key
from mlops_common.shadow import ShadowRecord, encode_batch, shadow_stream
from mlops_common.testing.onnx_models import register_onnx_model, write_linear_model
from mlops_drift.rollout import streams
from mlops_drift.rollout.controller import RolloutController
from mlops_drift.rollout.metrics import RolloutMetrics
from mlops_drift.rollout.registry import RolloutRegistry
from mlops_drift.rollout.settings import RolloutSettings

from .conftest import add_traffic

pytestmark = pytest.mark.slow

SETTINGS = RolloutSettings(
    probation_s=600.0,
    min_labelled=20,
    min_rows=20,
    min_shadowed=50,
    min_shadow_labelled=20,
)


def _register(store: Any, path: Path, alias: str | None, **metrics: float) -> str:
    version = register_onnx_model(store.tracking_uri, path, alias=alias)
    client = MlflowClient(tracking_uri=store.tracking_uri, registry_uri=store.tracking_uri)
    run_id = client.get_model_version(MODEL_NAME, version).run_id
    assert run_id is not None
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    return version


def _traffic(version: str, n: int, right: int, sync: redis.Redis) -> None:
    """``n`` entries answered by ``version``, the first ``right`` of them correctly labelled."""
    entries = []
    for i in range(n):
        pid = f"{version}-{time.monotonic_ns()}-{i}"
        label = i % 10
        entries.append(
            TrafficEntry(
                id=pid,
                request_id=pid,
                model_version=version,
                features=[0.0] * 64,  # type: ignore[arg-type]
                label=label,
                confidence=0.9,
                latency_ms=2.0,
            )
        )
        sync.hset(FEEDBACK_HASH, pid, str(label if i < right else (label + 1) % 10))
    add_traffic(sync, entries)


def _controller(store: Any, url: str, client: Redis, settings: RolloutSettings = SETTINGS) -> Any:
    publisher = redis.Redis.from_url(url)
    registry = RolloutRegistry(store.tracking_uri, publisher.publish)
    metrics = RolloutMetrics(CollectorRegistry())
    return RolloutController(MODEL_NAME, client, registry, settings, metrics), metrics


def _production(store: Any) -> str:
    client = MlflowClient(tracking_uri=store.tracking_uri, registry_uri=store.tracking_uri)
    return str(client.get_model_version_by_alias(MODEL_NAME, ALIAS_PRODUCTION).version)


def _log(sync: redis.Redis) -> list[RolloutDecision]:
    return [
        RolloutDecision.model_validate_json(raw)
        for raw in sync.lrange(rollout_log_key(MODEL_NAME), 0, -1)
    ]


def test_a_regressing_promotion_is_rolled_back_and_announced(
    mlflow_store: Any, tmp_path: Path, redis_url: str, redis_db: redis.Redis
) -> None:
    good = _register(
        mlflow_store, write_linear_model(tmp_path / "a.onnx", seed=0), ALIAS_PRODUCTION
    )
    bad = _register(mlflow_store, write_linear_model(tmp_path / "b.onnx", seed=1), None)
    events = redis_db.pubsub()
    events.subscribe(MODEL_EVENTS_CHANNEL)

    async def scenario() -> tuple[Any, Any]:
        client = Redis.from_url(redis_url)
        controller, metrics = _controller(mlflow_store, redis_url, client)
        try:
            await controller.tick()  # first sight: production recorded, nothing on probation
            state = RolloutState.from_fields(redis_db.hgetall(rollout_key(MODEL_NAME)))
            assert state.production == good
            assert state.probation is None
            _traffic(good, 60, right=57, sync=redis_db)  # 95 % before the move
            await asyncio.sleep(0.01)
            client_mlflow = MlflowClient(mlflow_store.tracking_uri, mlflow_store.tracking_uri)
            promotion.promote(client_mlflow, bad, name=MODEL_NAME)  # as the admin API does
            await controller.tick()
            state = RolloutState.from_fields(redis_db.hgetall(rollout_key(MODEL_NAME)))
            assert state.probation is not None
            assert (state.probation.version, state.probation.previous) == (bad, good)
            _traffic(bad, 10, right=2, sync=redis_db)
            await controller.tick()  # 10 labelled rows: too few to judge
            assert _production(mlflow_store) == bad
            _traffic(bad, 30, right=6, sync=redis_db)  # 20 % on 40 labelled rows
            await controller.tick()
            return controller, metrics
        finally:
            await client.aclose()

    _, metrics = asyncio.run(scenario())
    assert _production(mlflow_store) == good
    log = _log(redis_db)
    assert [d.action for d in log] == ["rolled_back", "probation_started"]
    assert log[0].version == bad
    assert log[0].previous == good
    assert "live accuracy 0.200 on 40 labelled rows vs 0.950" in log[0].reason
    state = RolloutState.from_fields(redis_db.hgetall(rollout_key(MODEL_NAME)))
    assert state.probation is None
    assert state.production == good
    assert metrics.rollbacks.labels(model=MODEL_NAME)._value.get() == 1
    announced = [
        m for m in iter(lambda: events.get_message(timeout=1.0), None) if m["type"] == "message"
    ]
    assert any(f'"version": "{good}"' in m["data"].decode() for m in announced)
    events.close()


def test_a_pinned_version_is_not_rolled_back_and_a_clean_window_passes(
    mlflow_store: Any, tmp_path: Path, redis_url: str, redis_db: redis.Redis
) -> None:
    good = _register(
        mlflow_store, write_linear_model(tmp_path / "a.onnx", seed=0), ALIAS_PRODUCTION
    )
    bad = _register(mlflow_store, write_linear_model(tmp_path / "b.onnx", seed=1), None)
    short = SETTINGS.model_copy(update={"probation_s": 0.5})

    async def scenario() -> None:
        client = Redis.from_url(redis_url)
        controller, _ = _controller(mlflow_store, redis_url, client, short)
        try:
            await controller.tick()
            _traffic(good, 40, right=40, sync=redis_db)
            await asyncio.sleep(0.01)
            promotion.promote(
                MlflowClient(mlflow_store.tracking_uri, mlflow_store.tracking_uri), bad
            )
            redis_db.hset(rollout_key(MODEL_NAME), "pinned", bad)  # a person pinned it
            await controller.tick()
            _traffic(bad, 40, right=0, sync=redis_db)
            await controller.tick()
            assert _production(mlflow_store) == bad  # pinned at promotion: no probation at all
            redis_db.hdel(rollout_key(MODEL_NAME), "pinned")
            promotion.promote(
                MlflowClient(mlflow_store.tracking_uri, mlflow_store.tracking_uri), good
            )
            await controller.tick()  # good on probation against bad
            _traffic(good, 40, right=40, sync=redis_db)
            await asyncio.sleep(0.6)
            await controller.tick()
        finally:
            await client.aclose()

    asyncio.run(scenario())
    assert _production(mlflow_store) == good
    assert [d.action for d in _log(redis_db)] == ["probation_passed", "probation_started"]


def _shadow(
    sync: redis.Redis, production: str, candidate: str, n: int, cand_right: int, prod_right: int
) -> None:
    """``n`` one-row shadow records, written as stream entries of up to 7 (candidate batches);
    the candidate right on the first ``cand_right``, production on the first ``prod_right`` (by
    the feedback written for them)."""
    batch: list[ShadowRecord] = []
    for i in range(n):
        rid = f"{candidate}-{time.monotonic_ns()}-{i}"
        truth = i % 10
        record = ShadowRecord(
            request_id=rid,
            production_version=production,
            candidate_version=candidate,
            production_labels=[truth if i < prod_right else (truth + 1) % 10],
            production_confidences=[0.9],
            candidate_labels=[truth if i < cand_right else (truth + 2) % 10],
            candidate_confidences=[0.8],
            production_ms=0.3,
            candidate_ms=0.4,
        )
        batch.append(record)
        sync.hset(FEEDBACK_HASH, rid, str(truth))
        if len(batch) == 7 or i == n - 1:
            sync.xadd(shadow_stream(MODEL_NAME), encode_batch(batch))  # type: ignore[arg-type]
            batch = []


def test_latest_shadow_reads_entries_until_it_has_the_newest_records(
    redis_url: str, redis_db: redis.Redis
) -> None:
    _shadow(redis_db, "1", "2", 100, cand_right=0, prod_right=0)  # 15 entries
    redis_db.xadd(shadow_stream(MODEL_NAME), {"id": "garbage"})  # the newest entry

    async def read(count: int) -> tuple[list[ShadowRecord], list[int]]:
        client = Redis.from_url(redis_url)
        try:
            skipped: list[int] = []
            return await streams.latest_shadow(client, MODEL_NAME, count, skipped), skipped
        finally:
            await client.aclose()

    some, skipped = asyncio.run(read(40))  # more than one page of entries
    assert len(some) == 40
    assert [r.request_id.rsplit("-", 1)[1] for r in some] == [str(i) for i in range(99, 59, -1)]
    assert skipped == [1]
    everything, _ = asyncio.run(read(1000))  # the stream runs out first
    assert len(everything) == 100


def test_the_gate_rejects_a_candidate_worse_live_and_promotes_one_better_on_both(
    mlflow_store: Any, tmp_path: Path, redis_url: str, redis_db: redis.Redis
) -> None:
    model = write_linear_model(tmp_path / "a.onnx", seed=0)
    first = _register(mlflow_store, model, ALIAS_PRODUCTION, test_accuracy=0.90)
    worse_live = _register(
        mlflow_store, model, ALIAS_STAGING, test_accuracy=0.97, production_test_accuracy=0.90
    )

    async def scenario() -> None:
        client = Redis.from_url(redis_url)
        controller, metrics = _controller(mlflow_store, redis_url, client)
        try:
            _shadow(redis_db, first, worse_live, 30, cand_right=15, prod_right=27)
            await controller.tick()  # 30 rows < 50 shadowed: waiting
            assert _log(redis_db) == []
            _shadow(redis_db, first, worse_live, 30, cand_right=15, prod_right=27)
            await controller.tick()
            assert _production(mlflow_store) == first
            assert _log(redis_db)[0].action == "rejected"
            assert metrics.agreement.labels(model=MODEL_NAME)._value.get() < 1.0
            better = _register(
                mlflow_store, model, ALIAS_STAGING, test_accuracy=0.97, production_test_accuracy=0.9
            )
            _shadow(redis_db, first, better, 60, cand_right=58, prod_right=54)
            await controller.tick()
            assert _production(mlflow_store) == better
            await controller.tick()  # the promoted version goes on probation
        finally:
            await client.aclose()

    asyncio.run(scenario())
    log = _log(redis_db)
    assert [d.action for d in log] == ["probation_started", "promoted", "rejected"]
    assert "live: candidate 0.5000 < production 0.9000" in log[2].reason
    assert "live: candidate 0.9667 >= production 0.9000" in log[1].reason
