"""The closed loop with real parts: Redis, ``celery -A mlops_trainer.worker worker --pool=solo``
(a subprocess), a sqlite MLflow store, and the drift service (``mlops_drift.app``) over HTTP.

1. shifted traffic (inverted digits) + feedback labels, written as the gateway writes them →
   drift checks → exactly one retrain queued → version 2 registered, promoted, announced on
   ``model-events``, and the drift service reloads its reference;
2. the worker is SIGKILLed in the middle of a job → nothing registered or moved; a new worker
   gets the job again (visibility timeout) and finishes it; every version is complete;
3. a job for an imported model is refused by the worker: the job answers why, nothing changes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from celery import Celery
from mlflow.tracking import MlflowClient
from redis.asyncio import Redis as AsyncRedis

from mlops_common import promotion, retrain_lock
from mlops_common.jobs import RETRAIN_LOCK_KEY
from mlops_common.redis_keys import (
    MODEL_EVENTS_CHANNEL,
    ModelEvent,
)
from mlops_common.registry import (
    ALIAS_PRODUCTION,
    ALIAS_STAGING,
    MODEL_NAME,
    PRODUCTION_URI,
    REFERENCE_ARTIFACT,
)
from mlops_common.testing.asgi import serve_asgi
from mlops_common.testing.pytest_plugin import MlflowStore
from mlops_common.testing.servers import RedisServer, free_port, stop_process_group
from mlops_common.testing.traffic import write_labelled_traffic
from mlops_trainer import registry
from mlops_trainer.cli import main
from mlops_trainer.data import load_sklearn_digits
from mlops_trainer.export import onnx_proba, onnx_session
from mlops_trainer.retrain import JOB_TAG

pytestmark = pytest.mark.slow

#: The models of these tests: tiny network, few epochs, a reference the drift service can use.
BASE = ["model=tiny", "trainer=fast", "reference.rows=300"]


class Worker:
    """``celery -A mlops_trainer.worker worker --pool=solo`` in its own process group."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        args = [sys.executable, "-m", "celery", "-A", "mlops_trainer.worker", "worker"]
        args += ["--pool=solo", "--loglevel=INFO", "-n", f"w{uuid.uuid4().hex[:6]}@%h"]
        args += ["--without-gossip", "--without-mingle"]
        self.log = log
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the worker (no shutdown, no ack, no cleanup)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """Stop the worker and everything it started."""
        stop_process_group(self.proc, timeout=15)


@pytest.fixture
def env(
    redis_server: RedisServer,
    mlflow_store: MlflowStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Environment of the worker and of the in-process bootstrap."""
    values = {
        "REDIS_URL": redis_server.url,
        "MLFLOW_TRACKING_URI": mlflow_store.tracking_uri,
        "MLOPS_STATE_DIR": str(tmp_path / "state"),
        "TRAINER_ARTIFACT_ROOT": str(mlflow_store.artifact_root),
        "TRAINER_WORKER_METRICS_PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **values}


@pytest.fixture
def sender(redis_server: RedisServer) -> Iterator[Celery]:
    """A Celery client of the test's Redis (broker and results), as the gateway has."""
    app = Celery("test-client", broker=redis_server.url, backend=redis_server.url)
    app.conf.update(set_as_current=False)
    yield app
    app.close()


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def bootstrap(overrides: list[str]) -> None:
    """``mlops-train bootstrap``: version 1, production."""
    assert main(["bootstrap", "--task", "digits", *overrides]) == 0


def shifted_traffic(db: redis.Redis, rows: int) -> None:
    """Inverted digits answered by production, logged and labelled as the gateway does."""
    x, y = load_sklearn_digits()
    index = np.random.default_rng(0).choice(len(y), size=rows, replace=False)
    x, y = 16.0 - x[index], y[index]
    model = registry.download_model(PRODUCTION_URI, Path(os.environ["MLOPS_STATE_DIR"]) / "p")
    probabilities = onnx_proba(onnx_session(model), x.astype(np.float32))
    write_labelled_traffic(db, x, y, probabilities, latency_ms=2.0)


def versions(client: MlflowClient) -> list[str]:
    found = client.search_model_versions(f"name='{MODEL_NAME}'")
    return sorted((str(v.version) for v in found), key=int)


def alias(client: MlflowClient, name: str) -> str | None:
    version = promotion.alias_version(client, name)
    return str(version.version) if version else None


def assert_complete(client: MlflowClient, version: str) -> None:
    """A version whose run holds everything the contract names."""
    run_id = client.get_model_version(MODEL_NAME, version).run_id
    assert run_id is not None
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert {"test_accuracy", "test_f1"} <= set(run.data.metrics)
    files = {a.path for a in client.list_artifacts(run_id, "model")}
    assert {"model/MLmodel", "model/model.onnx"} <= files
    assert REFERENCE_ARTIFACT in {a.path for a in client.list_artifacts(run_id, "reference")}


async def _collect_events(url: str, into: list[ModelEvent], ready: asyncio.Event) -> None:
    client = AsyncRedis.from_url(url)
    async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
        await pubsub.subscribe(MODEL_EVENTS_CHANNEL)
        ready.set()
        async for message in pubsub.listen():
            if message.get("type") == "message":
                into.append(ModelEvent.decode(message["data"]))


async def _check_until_window(http: httpx.AsyncClient, rows: int) -> dict[str, Any]:
    for _ in range(300):
        response = await http.post("/v1/drift/check")
        if response.status_code == 200 and response.json()["window_size"] >= rows:
            return dict(response.json())
        await asyncio.sleep(0.2)
    raise AssertionError(f"the drift service never saw the traffic: {response.text}")


async def test_shifted_traffic_drift_one_retrain_promoted_and_announced(
    env: dict[str, str], redis_server: RedisServer, mlflow_store: MlflowStore, tmp_path: Path
) -> None:
    from mlops_drift.app import create_app
    from mlops_drift.settings import DriftSettings

    overrides = [*BASE, "trainer.max_epochs=12"]
    worker = Worker({**env, "TRAINER_RETRAIN_OVERRIDES": " ".join(overrides)}, tmp_path / "w.log")
    db = redis.Redis.from_url(redis_server.url)
    events: list[ModelEvent] = []
    subscribed = asyncio.Event()
    listener = asyncio.create_task(_collect_events(redis_server.url, events, subscribed))
    try:
        await asyncio.to_thread(bootstrap, overrides)
        await asyncio.to_thread(shifted_traffic, db, 300)
        await subscribed.wait()
        drift = DriftSettings(
            redis_url=redis_server.url,
            mlflow_tracking_uri=mlflow_store.tracking_uri,
            port=free_port(),
            check_executor="thread",
            start_from="earliest",
            check_interval_s=3600,
            reference_poll_s=1,
            min_window_size=200,
            admin_api_keys=["test-drift-admin-key-0123456789"],
        )
        async with (
            serve_asgi(create_app(drift), drift.port) as url,
            httpx.AsyncClient(
                base_url=url, timeout=60, headers={"X-API-Key": "test-drift-admin-key-0123456789"}
            ) as http,
        ):
            first = await _check_until_window(http, 300)
            assert first["drift_detected"]
            job_id = first["retrain_job_id"]
            assert job_id  # queued on the first drifting check...
            for _ in range(3):  # ...and not again while the cool-down holds
                again = (await http.post("/v1/drift/check")).json()
                assert again["drift_detected"]
                assert again["retrain_job_id"] is None

            backend = Celery(backend=redis_server.url, broker=redis_server.url)
            result = backend.AsyncResult(job_id)
            seen: set[str] = set()

            def finished() -> bool:
                # `info` asks the backend again on every read while the task runs: read it once,
                # or the task can finish between the check and the lookup.
                info = result.info
                if isinstance(info, dict) and "stage" in info:
                    seen.add(str(info["stage"]))
                return bool(result.ready())

            await asyncio.to_thread(wait_for, finished, 150, "the retraining job", 0.1)
            assert result.state == "SUCCESS", (result.state, worker.log.read_text()[-3000:])
            outcome = result.result
            # Progress is polled every 0.1 s: the long "train" stage is always seen, a short one
            # (register takes milliseconds) may pass between two polls; the outcome shows it ran.
            assert "train" in seen, seen
            assert outcome["version"] == "2"
            assert outcome["promoted"], outcome["reason"]
            assert outcome["reason"].startswith("promoted v2 over v1")
            assert (
                outcome["metrics"]["feedback_test_accuracy"]
                > (outcome["production_metrics"]["feedback_test_accuracy"])
            )
            assert outcome["feedback"]["used"] == 300
            client = registry.make_client(mlflow_store.tracking_uri)
            assert versions(client) == ["1", "2"]
            assert alias(client, ALIAS_PRODUCTION) == alias(client, ALIAS_STAGING) == "2"
            assert_complete(client, "2")
            await asyncio.to_thread(wait_for, lambda: events, 10, "the model event")
            assert [(e.name, e.version, e.alias) for e in events] == [
                (MODEL_NAME, "2", ALIAS_PRODUCTION)
            ]

            async def reference_reloaded() -> bool:
                text = (await http.get("/metrics")).text
                # the drift metrics may carry a model label: {model="digits-classifier"}
                queued = re.search(r"^drift_retrains_queued_total(\{[^}]*\})? 1\.0$", text, re.M)
                return 'version="2"' in text and queued is not None

            for _ in range(100):
                if await reference_reloaded():
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError((await http.get("/metrics")).text)

        # Exactly one job ran; the worker counts it and answers the health check.
        experiment = client.get_experiment_by_name("digits-classifier").experiment_id
        assert len(client.search_runs([experiment], f"tags.{JOB_TAG} != ''")) == 1
        port = env["TRAINER_WORKER_METRICS_PORT"]
        async with httpx.AsyncClient() as plain:
            metrics = (await plain.get(f"http://127.0.0.1:{port}/metrics")).text
        assert 'retrain_jobs_total{outcome="promoted"} 1.0' in metrics
        assert "retrain_job_running 0.0" in metrics
        assert backend.control.ping(timeout=5)
        assert db.get("jobs:retrain:running") is None  # the lock is released
    finally:
        listener.cancel()
        worker.stop()
        db.close()


def test_killed_worker_leaves_nothing_half_done_and_the_job_is_redelivered(
    env: dict[str, str], redis_server: RedisServer, mlflow_store: MlflowStore, tmp_path: Path,
    sender: Celery,
) -> None:  # fmt: skip
    worker_env = {
        **env,
        "TRAINER_RETRAIN_OVERRIDES": " ".join([*BASE, "trainer.max_epochs=10"]),
        "TRAINER_BROKER_VISIBILITY_TIMEOUT_S": "5",
        "TRAINER_RETRAIN_LOCK_TTL_S": "4",
    }
    first = Worker(worker_env, tmp_path / "w1.log")
    db = redis.Redis.from_url(redis_server.url)
    second: Worker | None = None
    try:
        bootstrap([*BASE, "trainer.max_epochs=2"])
        client = registry.make_client(mlflow_store.tracking_uri)
        job_id, queued = retrain_lock.submit_retrain(sender, db, "kill test", [])
        assert queued
        result = sender.AsyncResult(job_id)

        def training() -> bool:
            info = result.info
            return isinstance(info, dict) and info.get("stage") == "train" and info["epoch"] >= 2

        wait_for(training, 120, "the job to be training")
        first.kill()
        assert versions(client) == ["1"]
        assert alias(client, ALIAS_STAGING) == alias(client, ALIAS_PRODUCTION) == "1"
        assert result.state == "PROGRESS"  # nobody marked it done

        second = Worker(worker_env, tmp_path / "w2.log")
        wait_for(result.ready, 150, "the redelivered job")
        assert result.state == "SUCCESS", (result.state, second.log.read_text()[-3000:])
        outcome = result.result
        assert outcome["job_id"] == job_id
        assert versions(client) == ["1", outcome["version"]] == ["1", "2"]
        for version in versions(client):
            assert_complete(client, version)
        assert alias(client, ALIAS_STAGING) == "2"
        assert alias(client, ALIAS_PRODUCTION) == ("2" if outcome["promoted"] else "1")
        experiment = client.get_experiment_by_name("digits-classifier").experiment_id
        runs = client.search_runs([experiment], f"tags.{JOB_TAG} = '{job_id}'")
        statuses = sorted(run.info.status for run in runs)
        assert statuses == ["FINISHED", "KILLED"]  # the killed attempt, closed by the second
        assert json.loads(json.dumps(outcome))["reason"]
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        db.close()


def test_a_job_for_an_imported_model_is_refused_and_changes_nothing(
    env: dict[str, str], redis_server: RedisServer, mlflow_store: MlflowStore, tmp_path: Path,
    sender: Celery, onnx_classifier: Callable[..., Path],
) -> None:  # fmt: skip
    worker = Worker(env, tmp_path / "w.log")
    db = redis.Redis.from_url(redis_server.url)
    name = "iris-classifier"
    try:
        onnx_file = str(onnx_classifier(tmp_path / "iris.onnx"))
        imported = ["import", "--name", name, "--onnx", onnx_file, "--classes", "a,b,c"]
        assert main([*imported, "--stage", "production"]) == 0
        client = registry.make_client(mlflow_store.tracking_uri)

        def registry_state() -> tuple[list[str], str | None, list[str]]:
            found = sorted(str(v.version) for v in client.search_model_versions(f"name='{name}'"))
            production = promotion.alias_version(client, ALIAS_PRODUCTION, name)
            runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
            return (
                found,
                str(production.version) if production else None,
                [run.info.run_id for run in runs],
            )

        before = registry_state()
        job_id, queued = retrain_lock.submit_retrain(sender, db, "manual", model=name)
        assert queued
        result = sender.AsyncResult(job_id)
        wait_for(result.ready, 120, "the refused job")
        assert result.state == "SUCCESS", (result.state, worker.log.read_text()[-3000:])
        assert result.result == {
            "skipped": True,
            "model": name,
            "refused": "not_trainable",
            "reason": f"model '{name}' is not trainable: it was imported (no training recipe)",
            "trigger": "manual",
            "job_id": job_id,
        }
        assert registry_state() == before
        assert db.get(RETRAIN_LOCK_KEY) is None  # the next job, of any model, may run
        port = env["TRAINER_WORKER_METRICS_PORT"]
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'retrain_jobs_total{outcome="refused"} 1.0' in metrics
    finally:
        worker.stop()
        db.close()
