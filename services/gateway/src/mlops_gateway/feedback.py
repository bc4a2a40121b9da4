"""Feedback: the true label of an earlier prediction, checked against the logged ids.

A prediction id is known while the prediction-id index holds it
(:mod:`mlops_common.prediction_index`, written by :mod:`.traffic`). A request that held one
instance may be named by its ``request_id`` too: the index maps it to its prediction id.
"""

from __future__ import annotations

import time
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mlops_common.prediction_index import live_keys
from mlops_common.redis_keys import FEEDBACK_HASH
from mlops_gateway.errors import DependencyUnavailableError, NotFoundError
from mlops_gateway.traffic import TrafficLogger

#: KEYS[1]: the feedback hash; KEYS[2..]: the live index hashes, newest first.
#: ARGV[1]: the id feedback names; ARGV[2]: the label. Finds the prediction id the newest entry
#: names ("" names itself), stores the label under it and returns it; nil when unknown.
#: Look-up and write are one atomic step and one round trip.
RECORD_SCRIPT: Final = """
for i = 2, #KEYS do
  local named = redis.call('HGET', KEYS[i], ARGV[1])
  if named then
    if named == '' then named = ARGV[1] end
    redis.call('HSET', KEYS[1], named, ARGV[2])
    return named
  end
end
return false
"""


class FeedbackStore:
    """Checks prediction ids and stores true labels in the ``feedback`` hash."""

    def __init__(self, redis: Redis, traffic: TrafficLogger | None, ttl_s: int) -> None:
        self._redis = redis
        self._traffic = traffic
        self._ttl_s = ttl_s
        self._record = redis.register_script(RECORD_SCRIPT)

    async def record(self, identifier: str, label: int) -> str:
        """Store ``label`` for the prediction ``identifier`` names; return the prediction id.

        Raises:
            NotFoundError: no logged prediction (or single-instance request) has this id.
            DependencyUnavailableError: Redis is down.
        """
        if self._traffic is not None and self._traffic.pending(identifier):
            await self._traffic.wait_written(identifier)
        keys = [FEEDBACK_HASH, *live_keys(time.time(), self._ttl_s)]
        try:
            named = await self._record(keys=keys, args=[identifier, str(label)])
        except (RedisError, OSError, TimeoutError) as exc:
            raise DependencyUnavailableError("redis", f"cannot store feedback: {exc}") from exc
        if named is None:
            raise NotFoundError(
                f"no prediction with id {identifier!r}: it is unknown or older than its TTL"
            )
        return named.decode() if isinstance(named, bytes) else str(named)
