"""Watches for a new model version: polls the registry and listens on ``model-events``.

Polling alone is enough (a lost Redis message only delays a swap until the next poll); the
Redis subscription makes a promotion show up within moments. Every trigger calls
:meth:`ModelManager.refresh`, which asks the registry itself, so the registry stays the only
source of truth. Blocking MLflow calls run in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis

from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent
from mlops_inference.manager import ModelManager
from mlops_inference.settings import InferenceSettings

log = logging.getLogger(__name__)

#: Seconds before the first attempt to reach Redis again; doubles up to the maximum.
RECONNECT_DELAY_S = 1.0
RECONNECT_MAX_DELAY_S = 30.0


class ModelWatcher:
    """Triggers :meth:`ModelManager.refresh` on a timer and on matching model events."""

    def __init__(self, settings: InferenceSettings, manager: ModelManager) -> None:
        self._settings = settings
        self._manager = manager
        self._tasks: list[asyncio.Task[None]] = []
        self.events_seen = 0

    def start(self) -> None:
        """Start polling and, for a registry alias, the Redis subscription."""
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._poll(), name="model-poll"))
        ref = self._manager.ref
        if self._settings.watch_redis and ref is not None and ref.alias is not None:
            self._tasks.append(loop.create_task(self._listen(), name="model-events"))

    async def stop(self) -> None:
        """Cancel the watching tasks."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._settings.poll_interval_s)
            try:
                await self._manager.refresh()
            except Exception:
                log.exception("model refresh failed")

    def _matches(self, event: ModelEvent) -> bool:
        ref = self._manager.ref
        return ref is not None and event.name == ref.name and event.alias == ref.alias

    async def _listen(self) -> None:
        delay = RECONNECT_DELAY_S
        while True:
            client = aioredis.from_url(self._settings.redis_url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(MODEL_EVENTS_CHANNEL)
                    log.info("listening for model events", extra={"channel": MODEL_EVENTS_CHANNEL})
                    delay = RECONNECT_DELAY_S
                    async for message in pubsub.listen():
                        await self._handle(message)
            except (aioredis.RedisError, OSError) as exc:
                log.warning(
                    "model-events subscription lost (%s); retrying in %.0f s (polling goes on)",
                    exc,
                    delay,
                )
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY_S)

    async def _handle(self, message: dict[str, object]) -> None:
        if message.get("type") != "message":
            return
        data = message.get("data")
        try:
            event = ModelEvent.decode(data if isinstance(data, bytes | str) else "")
        except ValueError as exc:
            log.warning("ignoring malformed model event: %s", exc)
            return
        self.events_seen += 1
        if self._matches(event):
            log.info("model event", extra={"version": event.version, "alias": event.alias})
            await self._manager.refresh()
