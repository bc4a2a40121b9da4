"""Listens on ``model-events`` so a promotion reloads the reference at once (polling is the net)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent
from mlops_common.registry import ALIAS_PRODUCTION

log = logging.getLogger(__name__)


async def listen_model_events(
    redis: Redis,
    model_name: str,
    on_promotion: Callable[[], Awaitable[object]],
) -> None:
    """Call ``on_promotion`` for each event moving ``model_name``'s production alias; forever."""
    delay = 0.1
    while True:
        try:
            async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(MODEL_EVENTS_CHANNEL)
                delay = 0.1
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        event = ModelEvent.decode(message["data"])
                    except ValueError as exc:
                        log.warning("malformed model event", extra={"error": str(exc)})
                        continue
                    if event.name == model_name and event.alias == ALIAS_PRODUCTION:
                        try:
                            await on_promotion()
                        except Exception:
                            log.exception("reference reload after a model event failed")
        except asyncio.CancelledError:
            raise
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            log.warning("model-events unreachable; retrying", extra={"error": str(exc)})
        await asyncio.sleep(delay)
        delay = min(5.0, delay * 2)
