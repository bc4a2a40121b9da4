"""Retrains are queued by task name on a real Redis broker, once per cool-down."""

from __future__ import annotations

import asyncio

import redis
from redis.asyncio import Redis

from mlops_common.jobs import RETRAIN_TASK
from mlops_drift.trigger import RetrainTrigger, make_celery


async def test_one_message_per_cooldown(redis_url: str, redis_db: redis.Redis, helpers) -> None:  # type: ignore[no-untyped-def]
    trigger = RetrainTrigger(Redis.from_url(redis_url), make_celery(redis_url), cooldown_s=1.0)
    try:
        first = await trigger.maybe_queue("features drifted")
        assert first is not None
        assert await trigger.cooling_down()
        for _ in range(4):
            assert await trigger.maybe_queue("features drifted again") is None
        assert helpers.queued_tasks(redis_db) == [
            (RETRAIN_TASK, {"reason": "features drifted", "overrides": []})
        ]
        await asyncio.sleep(1.1)
        assert await trigger.maybe_queue("still drifting") is not None
        assert len(helpers.queued_tasks(redis_db)) == 2
    finally:
        trigger.close()


async def test_a_failed_send_releases_the_cooldown(redis_url: str, redis_db: redis.Redis) -> None:
    broken = make_celery("redis://127.0.0.1:1/0")  # nothing listens there
    trigger = RetrainTrigger(Redis.from_url(redis_url), broken, cooldown_s=60)
    try:
        try:
            await asyncio.wait_for(trigger.maybe_queue("drift"), 10)
        except Exception:
            pass
        else:
            raise AssertionError("sending to a dead broker should fail")
        assert not await trigger.cooling_down()
    finally:
        trigger.close()
