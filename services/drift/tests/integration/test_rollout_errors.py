"""Probation watches the error rate inference counts per version (``outcomes:<model>``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis
from mlflow import MlflowClient
from redis.asyncio import Redis

from mlops_common import promotion
from mlops_common.registry import ALIAS_PRODUCTION, MODEL_NAME
from mlops_common.rollout import outcome_field, outcomes_key
from mlops_common.testing.onnx_models import write_linear_model

from .test_rollout_controller import _controller, _log, _production, _register

pytestmark = pytest.mark.slow


def _count(sync: redis.Redis, version: str, ok: int, failed: int) -> None:
    """Add to ``version``'s counts as inference does."""
    key = outcomes_key(MODEL_NAME)
    sync.hincrby(key, outcome_field(version, failed=False), ok)
    sync.hincrby(key, outcome_field(version, failed=True), failed)


def test_a_version_whose_runs_fail_is_rolled_back_on_its_error_rate(
    mlflow_store: Any, tmp_path: Path, redis_url: str, redis_db: redis.Redis
) -> None:
    model = write_linear_model(tmp_path / "a.onnx", seed=0)
    good = _register(mlflow_store, model, ALIAS_PRODUCTION)
    bad = _register(mlflow_store, model, None)
    _count(redis_db, good, ok=5000, failed=5)  # 0.1 % before the move

    async def scenario() -> None:
        client = Redis.from_url(redis_url)
        controller, _ = _controller(mlflow_store, redis_url, client)
        try:
            await controller.tick()
            mlflow = MlflowClient(mlflow_store.tracking_uri, mlflow_store.tracking_uri)
            promotion.promote(mlflow, bad)
            _count(redis_db, good, ok=10, failed=0)  # in flight at the move: not the new one's
            await controller.tick()  # probation starts from the counts as they are
            _count(redis_db, bad, ok=15, failed=3)  # 18 requests: below min_rows (20)
            await controller.tick()
            assert _production(mlflow_store) == bad
            _count(redis_db, bad, ok=125, failed=17)  # 20 of 160 failed
            await controller.tick()
        finally:
            await client.aclose()

    asyncio.run(scenario())
    assert _production(mlflow_store) == good
    rolled = _log(redis_db)[0]
    assert rolled.action == "rolled_back"
    assert "error rate 12.5% of 160 requests vs 0.1%" in rolled.reason
