"""Watches for a new model version: polls the registry and listens on ``model-events``.

There is one watcher per served model (its own poll timer and, for a registry alias, its own
subscription filtered on that model's name), so a slow registry answer or a failing load of one
model never delays another's swap. Polling alone is enough (a lost Redis message only delays a
swap until the next poll); the Redis subscription makes a promotion show up within moments.
Every trigger calls :meth:`ModelManager.refresh`, which asks the registry itself, so the
registry stays the only source of truth. Blocking MLflow calls run in threads, never on the
event loop.
"""

from __future__ import annotations

import asyncio
import logging

from mlops_common.model_events import listen_model_events
from mlops_common.redis_keys import ModelEvent
from mlops_inference.manager import ModelManager
from mlops_inference.settings import InferenceSettings

log = logging.getLogger(__name__)


class ModelWatcher:
    """Triggers :meth:`ModelManager.refresh` on a timer and on matching model events."""

    def __init__(self, settings: InferenceSettings, manager: ModelManager) -> None:
        self._settings = settings
        self._manager = manager
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start polling and, for a registry alias, the Redis subscription."""
        loop = asyncio.get_running_loop()
        name = self._manager.config.name
        self._tasks.append(loop.create_task(self._poll(), name=f"model-poll:{name}"))
        ref = self._manager.ref
        if self._settings.watch_redis and ref is not None and ref.alias is not None:
            listen = listen_model_events(
                self._settings.redis_url, ref.name, ref.alias, self._on_event
            )
            self._tasks.append(loop.create_task(listen, name=f"model-events:{name}"))

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
                log.exception("model refresh failed", extra={"model": self._manager.config.name})

    async def _on_event(self, event: ModelEvent) -> None:
        log.info(
            "model event",
            extra={
                "model": self._manager.config.name,
                "version": event.version,
                "alias": event.alias,
            },
        )
        await self._manager.refresh()
