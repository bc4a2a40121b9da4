"""Queues a model's retraining, at most once per cool-down of that model.

The cool-down lives in Redis (``SET key NX PX``, one key per model: :func:`cooldown_key`), not
in memory: a restart of the service, or a second replica, does not queue a second retrain of the
model inside the same window. The job itself goes through
:func:`mlops_common.retrain_lock.submit_retrain`, the platform's one way to queue a retrain:
while any retraining job is queued or running it queues nothing (the worker trains one job at a
time) and the cool-down stays, so the next try comes after it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from redis import Redis

from mlops_common.retrain_lock import submit_retrain

log = logging.getLogger(__name__)

COOLDOWN_KEY_PREFIX: Final = "drift:retrain:cooldown:"


def cooldown_key(model: str) -> str:
    """The Redis key holding ``model``'s retrain cool-down."""
    return COOLDOWN_KEY_PREFIX + model


class RetrainTrigger:
    """Queues a model's retrain with a reason unless its cool-down holds.

    Sync Redis and Celery calls, run in a thread (as :mod:`mlops_common.retrain_lock` wants).
    """

    def __init__(self, redis: Redis, celery_app: Any, cooldown_s: float) -> None:
        self._redis = redis
        self._celery = celery_app
        self.cooldown_s = cooldown_s

    async def cooling_down(self, model: str) -> bool:
        """True while a retrain of ``model`` queued earlier still holds the cool-down."""
        return bool(await asyncio.to_thread(self._redis.exists, cooldown_key(model)))

    async def maybe_queue(self, model: str, reason: str) -> str | None:
        """Queue a retrain of ``model`` and return its job id, or None when none was queued
        (inside the cool-down, or another retraining job is in flight).

        When sending fails the cool-down is released, so the next confirmed drift tries again.
        """
        return await asyncio.to_thread(self._queue, model, reason)

    def _queue(self, model: str, reason: str) -> str | None:
        key = cooldown_key(model)
        acquired = self._redis.set(key, reason, nx=True, px=max(1, int(self.cooldown_s * 1000)))
        if not acquired:
            log.info(
                "drift confirmed; retrain not queued (cool-down)",
                extra={"model": model, "reason": reason},
            )
            return None
        try:
            job_id, queued = submit_retrain(
                self._celery, self._redis, reason, [], model=model, retry=False
            )
        except Exception:
            self._redis.delete(key)
            raise
        if not queued:
            log.info(
                "drift confirmed; retrain not queued (job %s in flight)",
                job_id,
                extra={"model": model, "reason": reason},
            )
            return None
        log.info("retrain queued", extra={"model": model, "task_id": job_id, "reason": reason})
        return job_id

    def close(self) -> None:
        """Release the broker and Redis connections."""
        self._celery.close()
        self._redis.close()
