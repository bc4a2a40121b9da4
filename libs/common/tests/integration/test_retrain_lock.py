"""``submit_retrain`` with a real Redis: what the queued task carries, one lock for all models."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery

from mlops_common import retrain_lock
from mlops_common.jobs import RETRAIN_QUEUE, RETRAIN_TASK

pytestmark = pytest.mark.integration


@pytest.fixture
def db(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def sender(redis_url: str) -> Iterator[Celery]:
    app = Celery("test-sender", broker=redis_url, backend=redis_url, set_as_current=False)
    yield app
    app.close()


def _queued(db: redis.Redis) -> list[tuple[str, str, dict[str, Any]]]:
    """``(task name, job id, kwargs)`` of each queued message, oldest first."""
    out = []
    for raw in reversed(db.lrange(RETRAIN_QUEUE, 0, -1)):
        message = json.loads(raw)
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], message["headers"]["id"], kwargs))
    return out


def test_the_task_names_the_model_digits_by_default(db: redis.Redis, sender: Celery) -> None:
    job_id, queued = retrain_lock.submit_retrain(sender, db, "drift", ["seed=1"])
    assert queued
    assert _queued(db) == [
        (
            RETRAIN_TASK,
            job_id,
            {"reason": "drift", "overrides": ["seed=1"], "model": "digits-classifier"},
        )
    ]


def test_one_job_at_a_time_whatever_the_model(db: redis.Redis, sender: Celery) -> None:
    iris, queued = retrain_lock.submit_retrain(sender, db, "manual", model="iris-classifier")
    assert queued
    # A request for another model while the iris job is in flight gets the iris job back.
    again, queued_again = retrain_lock.submit_retrain(sender, db, "manual")
    assert (again, queued_again) == (iris, False)
    assert [kwargs["model"] for _, _, kwargs in _queued(db)] == ["iris-classifier"]
    assert retrain_lock.release(db, iris)
    digits, queued = retrain_lock.submit_retrain(sender, db, "drift")
    assert queued
    assert [(job, kwargs["model"]) for _, job, kwargs in _queued(db)] == [
        (iris, "iris-classifier"),
        (digits, "digits-classifier"),
    ]
