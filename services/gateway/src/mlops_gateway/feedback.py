"""Feedback: the true label of an earlier prediction, checked against the logged ids.

A prediction id is known while its ``prediction:<id>`` key lives (see :mod:`.traffic`); its
value is the prediction id. A request that held one instance may be named by its
``request_id``: the gateway then also keeps ``prediction:<request_id>`` holding the prediction id.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mlops_common.redis_keys import FEEDBACK_HASH, prediction_key
from mlops_gateway.errors import DependencyUnavailableError, NotFoundError
from mlops_gateway.traffic import TrafficLogger


class FeedbackStore:
    """Checks prediction ids and stores true labels in the ``feedback`` hash."""

    def __init__(self, redis: Redis, traffic: TrafficLogger | None) -> None:
        self._redis = redis
        self._traffic = traffic

    async def record(self, identifier: str, label: int) -> str:
        """Store ``label`` for the prediction ``identifier`` names; return the prediction id.

        Raises:
            NotFoundError: no logged prediction (or single-instance request) has this id.
            DependencyUnavailableError: Redis is down.
        """
        if self._traffic is not None and self._traffic.pending(identifier):
            await self._traffic.wait_written(identifier)
        try:
            prediction_id = await self._redis.get(prediction_key(identifier))
            if prediction_id is None:
                raise NotFoundError(
                    f"no prediction with id {identifier!r}: it is unknown or older than its TTL"
                )
            resolved = prediction_id.decode() if isinstance(prediction_id, bytes) else prediction_id
            await self._redis.hset(FEEDBACK_HASH, resolved, str(label))
        except (RedisError, OSError, TimeoutError) as exc:
            raise DependencyUnavailableError("redis", f"cannot store feedback: {exc}") from exc
        return str(resolved)
