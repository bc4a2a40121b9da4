"""Shared pytest fixtures: free ports, a real Redis, a throwaway MLflow store, a real MLflow server.

Loaded for the whole monorepo by the root ``conftest.py``. Tests are marked by where they live:
a test under a ``unit/`` folder gets ``unit``, under ``integration/`` gets ``integration``,
under ``e2e/`` gets ``e2e``.

Redis comes from, in order: ``REDIS_URL`` when set (``TEST_REDIS_URL`` wins over it); a
``redis-server`` binary started on a free port; a testcontainers Redis when a Docker engine
answers (and can pull ``redis:7-alpine``); else the test is skipped with the reason.

Once collected (everything imported), the session's heap is frozen (``gc.freeze()``), as the
services do when they start serving (:mod:`mlops_common.gc_tuning`): a full collection then
walks only what the tests made since, not the modules of torch, MLflow and the rest. Servers run
in the test process here; one full collection of its whole heap stopped their event loop for
0.5 s (a few seconds on a slower machine).
"""

from __future__ import annotations

import gc
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_common.testing.servers import MlflowServer, RedisServer, free_port

_FOLDER_MARKERS = ("unit", "integration", "e2e")
_MLFLOW_URI_GLOBALS = (
    ("mlflow.tracking._tracking_service.utils", "_tracking_uri"),
    ("mlflow.tracking._model_registry.utils", "_registry_uri"),
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test ``unit``/``integration``/``e2e`` after the folder it lives in."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for marker in _FOLDER_MARKERS:
            if marker in parts:
                item.add_marker(getattr(pytest.mark, marker))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection left alive (imported modules, mostly): see the module's doc."""
    gc.collect()
    gc.freeze()


def _docker_engine_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=2)
        client.ping()
        return True
    except Exception:
        return False


@pytest.fixture
def unused_port() -> int:
    """A free TCP port on 127.0.0.1."""
    return free_port()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server for the session (see the module docstring for the source)."""
    configured = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    if RedisServer.available():
        server = RedisServer().start()
        try:
            yield server.url
        finally:
            server.stop()
        return
    if not _docker_engine_answers():
        pytest.skip("no Redis: set REDIS_URL, install redis-server, or start a Docker engine")
    from testcontainers.redis import RedisContainer

    with RedisContainer("redis:7-alpine") as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(container.port)
        yield f"redis://{host}:{port}/0"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private ``redis-server`` for one test, which the test may stop and start again."""
    if not RedisServer.available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class MlflowStore:
    """A throwaway MLflow store: sqlite tracking/registry plus a local artifact folder."""

    root: Path
    tracking_uri: str
    artifact_root: Path


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MlflowStore:
    """A fresh sqlite MLflow store in a temp folder, exported as ``MLFLOW_TRACKING_URI``."""
    root = tmp_path / "mlflow"
    artifacts = root / "artifacts"
    artifacts.mkdir(parents=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    # An earlier test's mlflow.set_tracking_uri()/set_registry_uri() would otherwise win over
    # the environment for the rest of the session.
    for module, attribute in _MLFLOW_URI_GLOBALS:
        try:
            monkeypatch.setattr(importlib.import_module(module), attribute, None)
        except (ImportError, AttributeError):
            continue
    return MlflowStore(root=root, tracking_uri=uri, artifact_root=artifacts)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server`` (sqlite + local artifacts) for the session."""
    pytest.importorskip("mlflow.server", reason="mlflow server needs the full mlflow package")
    server = MlflowServer(root=tmp_path_factory.mktemp("mlflow-server")).start()
    try:
        yield server
    finally:
        server.stop()
