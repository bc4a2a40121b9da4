"""Integration fixtures: a clean Redis database, a registered production model, a served app."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from mlops_common.jobs import RETRAIN_QUEUE
from mlops_common.redis_keys import TrafficEntry, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.asgi import serve_asgi
from mlops_common.testing.onnx_models import register_onnx_model, write_linear_model

STREAM = traffic_stream(MODEL_NAME)


@pytest.fixture
def redis_db(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the session's Redis, emptied before and after the test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def production_model(mlflow_store: Any, reference_csv: Path, tmp_path: Path) -> str:
    """Version 1 of digits-classifier, aliased production, with the digits reference."""
    model = write_linear_model(tmp_path / "model.onnx", seed=0)
    return register_onnx_model(mlflow_store.tracking_uri, model, reference_csv=reference_csv)


def add_traffic(client: redis.Redis, entries: list[TrafficEntry]) -> None:
    """XADD entries as the gateway does."""
    pipe = client.pipeline(transaction=False)
    for entry in entries:
        pipe.xadd(STREAM, entry.encode())  # type: ignore[arg-type]
    pipe.execute()


def queued_tasks(client: redis.Redis) -> list[tuple[str, dict[str, Any]]]:
    """(task name, kwargs) of every Celery message waiting in the broker's queue list."""
    tasks = []
    for raw in client.lrange(RETRAIN_QUEUE, 0, -1):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], body[1]))
    return tasks


serve = serve_asgi


@pytest.fixture
def helpers() -> Any:
    """The module's helpers, for tests (importlib mode cannot import conftest by name)."""

    class Helpers:
        add_traffic = staticmethod(add_traffic)
        queued_tasks = staticmethod(queued_tasks)
        serve = staticmethod(serve)

    return Helpers
