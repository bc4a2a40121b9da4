"""Queues the ``retrain`` task by name, at most once per cool-down.

The cool-down lives in Redis (``SET key NX PX``), not in memory: a restart of the service, or a
second replica, does not queue a second retrain inside the same window.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from redis.asyncio import Redis

from mlops_common.jobs import RETRAIN_QUEUE, RETRAIN_TASK

log = logging.getLogger(__name__)

COOLDOWN_KEY: Final = "drift:retrain:cooldown"


class RetrainTrigger:
    """Queues ``RETRAIN_TASK`` with a reason unless a retrain was queued within the cool-down."""

    def __init__(self, redis: Redis, celery_app: Any, cooldown_s: float) -> None:
        self._redis = redis
        self._celery = celery_app
        self.cooldown_s = cooldown_s

    async def cooling_down(self) -> bool:
        """True while a retrain queued earlier still holds the cool-down."""
        return bool(await self._redis.exists(COOLDOWN_KEY))

    async def maybe_queue(self, reason: str) -> str | None:
        """Queue a retrain and return its task id, or None inside the cool-down.

        When sending fails the cool-down is released, so the next confirmed drift tries again.
        """
        acquired = await self._redis.set(
            COOLDOWN_KEY, reason, nx=True, px=max(1, int(self.cooldown_s * 1000))
        )
        if not acquired:
            log.info("drift confirmed; retrain not queued (cool-down)", extra={"reason": reason})
            return None
        try:
            result = await asyncio.to_thread(
                self._celery.send_task,
                RETRAIN_TASK,
                kwargs={"reason": reason, "overrides": []},
                queue=RETRAIN_QUEUE,
            )
        except Exception:
            await self._redis.delete(COOLDOWN_KEY)
            raise
        task_id = str(result.id)
        log.info("retrain queued", extra={"task_id": task_id, "reason": reason})
        return task_id

    def close(self) -> None:
        """Release the broker connections."""
        self._celery.close()
