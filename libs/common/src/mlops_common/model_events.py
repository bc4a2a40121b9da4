"""Follow the ``model-events`` channel: call back when a model's alias moves, through Redis outages.

Reconnection is redis-py's own: the subscriber's client retries a lost or refused connection
without limit, with exponential backoff, and the pub/sub object subscribes again on each new
connection. Events published while Redis was unreachable are lost (pub/sub keeps nothing), so
subscribers poll the registry as well.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent

log = logging.getLogger(__name__)


class _LoggedBackoff(ExponentialBackoff):
    """redis-py's exponential backoff, logging each wait so an outage shows in the logs."""

    def compute(self, failures: int) -> float:
        delay = super().compute(failures)
        log.warning(
            "model-events: Redis connection failed (%d); retrying in %.1f s", failures, delay
        )
        return delay


async def listen_model_events(
    redis_url: str,
    model_name: str,
    alias: str,
    on_event: Callable[[ModelEvent], Awaitable[object]],
    *,
    first_delay_s: float = 1.0,
    max_delay_s: float = 30.0,
) -> None:
    """Await ``on_event`` for each event moving ``model_name``'s ``alias``, until cancelled.

    Reconnects after ``first_delay_s``, doubling up to ``max_delay_s``. A malformed message is
    logged and skipped; so is an exception raised by ``on_event``.
    """
    retry = Retry(_LoggedBackoff(cap=max_delay_s, base=first_delay_s / 2), retries=-1)
    client = Redis.from_url(redis_url, retry=retry)
    try:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(MODEL_EVENTS_CHANNEL)
            log.info("listening for model events", extra={"channel": MODEL_EVENTS_CHANNEL})
            async for message in pubsub.listen():
                try:
                    event = ModelEvent.decode(message["data"])
                except ValueError as exc:
                    log.warning("ignoring malformed model event: %s", exc)
                    continue
                if event.name != model_name or event.alias != alias:
                    continue
                try:
                    await on_event(event)
                except Exception:
                    log.exception("handling a model event failed", extra={"version": event.version})
    finally:
        await client.aclose()
