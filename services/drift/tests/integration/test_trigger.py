"""Retrains are queued by task name on a real Redis broker, once per cool-down of each model."""

from __future__ import annotations

import asyncio

import redis

from mlops_common.jobs import RETRAIN_LOCK_KEY, RETRAIN_TASK, celery_sender
from mlops_drift.trigger import RetrainTrigger, cooldown_key

DIGITS, NEWS = "digits-classifier", "news-classifier"


async def test_one_message_per_cooldown_of_each_model(  # type: ignore[no-untyped-def]
    redis_url: str, redis_db: redis.Redis, helpers
) -> None:
    sender = celery_sender(redis_url)
    trigger = RetrainTrigger(redis.Redis.from_url(redis_url), sender, cooldown_s=60.0)
    try:
        first = await trigger.maybe_queue(DIGITS, "features drifted")
        assert first is not None
        assert await trigger.cooling_down(DIGITS)
        assert not await trigger.cooling_down(NEWS)
        for _ in range(4):
            assert await trigger.maybe_queue(DIGITS, "features drifted again") is None
        assert helpers.queued_tasks(redis_db) == [
            (RETRAIN_TASK, {"reason": "features drifted", "overrides": [], "model": DIGITS})
        ]
        assert 59_000 < redis_db.pttl(cooldown_key(DIGITS)) <= 60_000  # Redis ends the cool-down
        # another model's drift while the first job is in flight: nothing queued (one job at a
        # time), and that model's cool-down holds, so it tries again after it
        assert await trigger.maybe_queue(NEWS, "labels drifted") is None
        assert await trigger.cooling_down(NEWS)
        assert len(helpers.queued_tasks(redis_db)) == 1
        redis_db.delete(cooldown_key(DIGITS), RETRAIN_LOCK_KEY)  # the job ended, TTL ran out
        assert await trigger.maybe_queue(DIGITS, "still drifting") is not None
        assert len(helpers.queued_tasks(redis_db)) == 2
    finally:
        trigger.close()


async def test_a_failed_send_releases_the_cooldown(redis_url: str, redis_db: redis.Redis) -> None:
    broken = celery_sender("redis://127.0.0.1:1/0")  # nothing listens there
    trigger = RetrainTrigger(redis.Redis.from_url(redis_url), broken, cooldown_s=60)
    try:
        try:
            await asyncio.wait_for(trigger.maybe_queue(DIGITS, "drift"), 10)
        except Exception:
            pass
        else:
            raise AssertionError("sending to a dead broker should fail")
        assert not await trigger.cooling_down(DIGITS)
        assert not redis_db.exists(RETRAIN_LOCK_KEY)
    finally:
        trigger.close()
