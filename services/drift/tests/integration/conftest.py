"""Integration fixtures: a clean Redis database, registered production models (each with its spec
and reference), a served app."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from mlflow import MlflowClient

from mlops_common.jobs import RETRAIN_QUEUE
from mlops_common.model_spec import MODEL_SPEC_ARTIFACT
from mlops_common.redis_keys import TrafficEntry, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.asgi import serve_asgi
from mlops_common.testing.iris import write_iris_model
from mlops_common.testing.onnx_models import (
    register_onnx_model,
    write_linear_model,
)
from mlops_drift.settings import DriftSettings

STREAM = traffic_stream(MODEL_NAME)

#: The admin key the drift services of these tests accept (POST /v1/drift/check).
ADMIN_KEY = "test-drift-admin-key-0123456789"
ADMIN = {"X-API-Key": ADMIN_KEY}


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


def register_model(
    tracking_uri: str,
    path: Path,
    *,
    name: str = MODEL_NAME,
    spec: dict[str, Any] | str | None = None,
    reference_csv: Path | None = None,
) -> str:
    """Register ``path`` as the production version of ``name`` with ``spec`` (a dict, or raw
    text for a malformed one) as its ``model-spec.json`` and ``reference_csv`` as its reference."""
    version = register_onnx_model(tracking_uri, path, name=name, reference_csv=reference_csv)
    if spec is not None:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        run_id = client.get_model_version(name, version).run_id
        assert run_id is not None
        text = spec if isinstance(spec, str) else json.dumps(spec)
        client.log_text(run_id, text, MODEL_SPEC_ARTIFACT)
    return version


@pytest.fixture
def production_model(mlflow_store: Any, reference_csv: Path, tmp_path: Path, specs: Any) -> str:
    """Version 1 of digits-classifier, aliased production, with the digits spec and reference."""
    model = write_linear_model(tmp_path / "model.onnx", seed=0)
    return register_model(
        mlflow_store.tracking_uri, model, spec=specs.digits(), reference_csv=reference_csv
    )


def add_traffic(client: redis.Redis, entries: list[TrafficEntry], model: str = MODEL_NAME) -> None:
    """XADD entries to ``model``'s traffic stream as the gateway does."""
    pipe = client.pipeline(transaction=False)
    for entry in entries:
        pipe.xadd(traffic_stream(model), entry.encode())  # type: ignore[arg-type]
    pipe.execute()


def queued_tasks(client: redis.Redis) -> list[tuple[str, dict[str, Any]]]:
    """(task name, kwargs) of every Celery message waiting in the broker's queue list."""
    tasks = []
    for raw in client.lrange(RETRAIN_QUEUE, 0, -1):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], body[1]))
    return tasks


def settings_for(redis_url: str, store: Any, port: int, **overrides: Any) -> DriftSettings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "mlflow_tracking_uri": store.tracking_uri,
        "port": port,
        "check_executor": "thread",
        "check_interval_s": 3600,
        "reference_poll_s": 3600,  # first poll at start-up; later changes come as events
        "read_block_ms": 50,
        "window_size": 400,
        "min_window_size": 200,
        "retrain_cooldown_s": 600,
        "admin_api_keys": [ADMIN_KEY],
        **overrides,
    }
    return DriftSettings(**values)


def metric(text: str, name: str, labels: str = "") -> float | None:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


async def wait_for(predicate: Any, within_s: float = 30.0) -> None:
    """Poll ``predicate`` (an HTTP probe) until it holds; TimeoutError after ``within_s``."""
    async with asyncio.timeout(within_s):
        for _ in itertools.count():
            if await predicate():
                return
            await asyncio.sleep(0.05)


def of(model: str) -> str:
    """The label set of ``model``'s series."""
    return f'{{model="{model}"}}'


async def window_has(http: httpx.AsyncClient, rows: int, model: str = MODEL_NAME) -> bool:
    text = (await http.get("/metrics")).text
    return metric(text, "drift_window_size", of(model)) == rows


async def reference_is(http: httpx.AsyncClient, version: str, model: str = MODEL_NAME) -> bool:
    text = (await http.get("/metrics")).text
    labels = f'{{name="{model}",version="{version}"}}'
    return metric(text, "drift_reference_info", labels) == 1.0


serve = serve_asgi


@pytest.fixture
def helpers() -> Any:
    """The module's helpers, for tests (importlib mode cannot import conftest by name)."""

    class Helpers:
        add_traffic = staticmethod(add_traffic)
        register_model = staticmethod(register_model)
        write_iris_model = staticmethod(write_iris_model)
        settings_for = staticmethod(settings_for)
        metric = staticmethod(metric)
        wait_for = staticmethod(wait_for)
        of = staticmethod(of)
        window_has = staticmethod(window_has)
        reference_is = staticmethod(reference_is)
        queued_tasks = staticmethod(queued_tasks)
        serve = staticmethod(serve)
        ADMIN = ADMIN

    return Helpers
