"""The ``model-events`` subscriber: filters events, survives bad ones, outlives a Redis restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from mlops_common import model_events
from mlops_common.model_events import listen_model_events
from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent
from mlops_common.testing.servers import RedisServer


@contextlib.asynccontextmanager
async def _listening(url: str, seen: asyncio.Queue[ModelEvent]) -> AsyncIterator[None]:
    async def on_event(event: ModelEvent) -> None:
        if event.version == "boom":
            raise RuntimeError("handler failed")
        seen.put_nowait(event)

    task = asyncio.create_task(
        listen_model_events(url, "m", "production", on_event, first_delay_s=0.05, max_delay_s=0.2)
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _publish_when_subscribed(url: str, *messages: str) -> None:
    """Publish once the subscriber is (again) subscribed; waits at most 10 s for it."""
    client = aioredis.from_url(url)
    try:
        for _ in range(1000):
            if (await client.pubsub_numsub(MODEL_EVENTS_CHANNEL))[0][1] > 0:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("nobody subscribed to model-events within 10 s")
        for message in messages:
            await client.publish(MODEL_EVENTS_CHANNEL, message)
    finally:
        await client.aclose()


async def test_only_the_followed_alias_is_passed_on(redis_url: str) -> None:
    seen: asyncio.Queue[ModelEvent] = asyncio.Queue()
    async with _listening(redis_url, seen):
        await _publish_when_subscribed(
            redis_url,
            "not json",
            ModelEvent("other", "1").encode(),
            ModelEvent("m", "2", alias="staging").encode(),
            ModelEvent("m", "boom").encode(),  # the handler raises: the subscription goes on
            ModelEvent("m", "3").encode(),
        )
        event = await asyncio.wait_for(seen.get(), timeout=5)
    assert (event.name, event.version, event.alias) == ("m", "3", "production")
    assert seen.empty()


class _Warned(logging.Handler):
    """Sets :attr:`event` at the first warning: here, a failed reconnection."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.event.set()


async def test_the_subscription_comes_back_after_redis_restarts(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    warned = _Warned()
    monkeypatch.setattr(model_events.log, "handlers", [warned])
    seen: asyncio.Queue[ModelEvent] = asyncio.Queue()
    async with _listening(redis_server.url, seen):
        await _publish_when_subscribed(redis_server.url, ModelEvent("m", "1").encode())
        assert (await asyncio.wait_for(seen.get(), timeout=5)).version == "1"
        await asyncio.to_thread(redis_server.stop)
        await asyncio.wait_for(warned.event.wait(), timeout=10)  # a reconnection has failed
        await asyncio.to_thread(redis_server.start)
        await _publish_when_subscribed(redis_server.url, ModelEvent("m", "2").encode())
        assert (await asyncio.wait_for(seen.get(), timeout=5)).version == "2"
