"""Feedback: the true label of an earlier prediction, checked against the logged ids.

A prediction id is known while the prediction-id index holds it
(:mod:`mlops_common.prediction_index`, written by :mod:`.traffic`). A request that held one
instance may be named by its ``request_id`` too: the index maps it to its prediction id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mlops_common.prediction_index import live_keys, parse_index_value
from mlops_common.redis_keys import FEEDBACK_HASH
from mlops_gateway.errors import DependencyUnavailableError, InvalidLabelError, NotFoundError
from mlops_gateway.traffic import TrafficLogger

#: KEYS: the live index hashes, newest first; ARGV[1]: the id feedback names. Returns the value
#: of the newest entry for it (``<model>|<prediction id>``), nil when unknown: one round trip.
LOOKUP_SCRIPT: Final = """
for i = 1, #KEYS do
  local named = redis.call('HGET', KEYS[i], ARGV[1])
  if named then return named end
end
return false
"""

#: The class names of a served model, ``None`` when the gateway does not know the model.
ClassesOf = Callable[[str], Sequence[str] | None]


class FeedbackStore:
    """Checks prediction ids and stores true labels (class indexes) in the ``feedback`` hash."""

    def __init__(
        self, redis: Redis, traffic: TrafficLogger | None, ttl_s: int, classes_of: ClassesOf
    ) -> None:
        self._redis = redis
        self._traffic = traffic
        self._ttl_s = ttl_s
        self._classes_of = classes_of
        self._lookup = redis.register_script(LOOKUP_SCRIPT)

    async def record(self, identifier: str, label: int | str) -> tuple[str, int, str | None]:
        """Store ``label`` for the prediction ``identifier`` names.

        ``label`` is a class index or a class name of the model that answered. Returns the
        prediction id, the class index stored and the model's name (None for an entry logged
        without one).

        Raises:
            NotFoundError: no logged prediction (or single-instance request) has this id: a
                prediction whose traffic was dropped cannot take feedback.
            InvalidLabelError: the label is not one of the model's classes.
            DependencyUnavailableError: Redis is down.
        """
        if self._traffic is not None and self._traffic.pending(identifier):
            await self._traffic.wait_written(identifier)
        keys = live_keys(time.time(), self._ttl_s)
        try:
            value = await self._lookup(keys=keys, args=[identifier])
        except (RedisError, OSError, TimeoutError) as exc:
            raise DependencyUnavailableError("redis", f"cannot store feedback: {exc}") from exc
        if value is None:
            raise NotFoundError(
                f"no prediction with id {identifier!r}: it is unknown, older than its TTL, or "
                "its traffic was not logged (dropped while Redis was unavailable or full: "
                "gateway_traffic_dropped_total counts those)"
            )
        text = value.decode() if isinstance(value, bytes) else str(value)
        model, prediction_id = parse_index_value(identifier, text)
        index = self._class_index(model, label)
        try:
            await self._redis.hset(FEEDBACK_HASH, prediction_id, str(index))
        except (RedisError, OSError, TimeoutError) as exc:
            raise DependencyUnavailableError("redis", f"cannot store feedback: {exc}") from exc
        return prediction_id, index, model

    def _class_index(self, model: str | None, label: int | str) -> int:
        classes = self._classes_of(model) if model is not None else None
        if classes is None:  # a model the gateway no longer serves: indexes only
            if isinstance(label, int):
                return label
            raise InvalidLabelError(
                f"label {label!r}: the model {model!r} is not served now; send the class index"
            )
        if isinstance(label, int):
            if label < len(classes):
                return label
            raise InvalidLabelError(
                f"label {label} is not a class of {model!r}: it has {len(classes)} classes "
                f"(0..{len(classes) - 1})"
            )
        try:
            return list(classes).index(label)
        except ValueError:
            raise InvalidLabelError(
                f"label {label!r} is not a class of {model!r}; its classes are "
                + ", ".join(repr(c) for c in classes[:20])
            ) from None
