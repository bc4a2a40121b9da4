"""Integration fixtures of the trainer: a clean database on the session's real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def db(redis_url: str) -> Iterator[redis.Redis]:
    """The session's Redis, emptied before and after the test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
