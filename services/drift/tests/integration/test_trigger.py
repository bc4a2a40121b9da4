"""Retrains are queued by task name on a real Redis broker, once per cool-down."""

from __future__ import annotations

import asyncio

import redis
from redis.asyncio import Redis

from mlops_common.jobs import RETRAIN_TASK, celery_sender
from mlops_drift.trigger import COOLDOWN_KEY, RetrainTrigger


async def test_one_message_per_cooldown(redis_url: str, redis_db: redis.Redis, helpers) -> None:  # type: ignore[no-untyped-def]
    sender = celery_sender(redis_url, results=False)
    trigger = RetrainTrigger(Redis.from_url(redis_url), sender, cooldown_s=60.0)
    try:
        first = await trigger.maybe_queue("features drifted")
        assert first is not None
        assert await trigger.cooling_down()
        for _ in range(4):
            assert await trigger.maybe_queue("features drifted again") is None
        assert helpers.queued_tasks(redis_db) == [
            (RETRAIN_TASK, {"reason": "features drifted", "overrides": []})
        ]
        assert 59_000 < redis_db.pttl(COOLDOWN_KEY) <= 60_000  # Redis ends the cool-down
        redis_db.delete(COOLDOWN_KEY)  # as its TTL running out would
        assert await trigger.maybe_queue("still drifting") is not None
        assert len(helpers.queued_tasks(redis_db)) == 2
    finally:
        trigger.close()


async def test_a_failed_send_releases_the_cooldown(redis_url: str, redis_db: redis.Redis) -> None:
    broken = celery_sender("redis://127.0.0.1:1/0", results=False)  # nothing listens there
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
