"""Real servers for the gateway's API tests, all on free loopback ports.

A background thread runs one event loop holding a real inference server (``mlops_inference``,
onnxruntime on a small ONNX model of our contract), a fake-but-real HTTP drift service, and the
gateways under test (uvicorn through ``mlops_common.testing.asgi``, real HTTP). Tests talk to
them with a plain ``httpx.Client``. Redis is the shared real ``redis-server`` (``redis_url``)
unless a test brings its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from mlops_common.registry import MODEL_NAME
from mlops_common.testing.asgi import serve_asgi
from mlops_common.testing.onnx_models import register_onnx_model, write_linear_model
from mlops_common.testing.servers import free_port
from mlops_gateway.app import create_app
from mlops_gateway.settings import GatewaySettings
from mlops_inference.server import InferenceServer
from mlops_inference.settings import InferenceSettings

T = TypeVar("T")
ADMIN_KEY = "test-admin-key-0123456789abcdef"
#: The key the gateways send to drift's ``POST /v1/drift/check``, which :func:`start_drift`'s
#: drift service accepts.
DRIFT_KEY = "test-drift-key-0123456789abcdef"


class BackgroundLoop:
    """An event loop running in a daemon thread; coroutines are submitted from tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run ``coro`` on the loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def short_gc_pauses() -> None:
    """No full garbage collection of the whole test process's heap during a timed test.

    Here the gateway, inference and the test share one process whose heap holds everything the
    session made so far; one full collection of it stopped the event loop for 0.5 s (a few
    seconds on a slower machine), past a prediction's 2 s deadline. What is alive now is frozen
    (left out of cyclic collections for the rest of the session, as the plugin does after
    collection; reference counting still frees it).
    """
    gc.collect()
    gc.freeze()


@dataclass
class HttpServer:
    """An ASGI app served on the background loop by :func:`serve_asgi`, started and stopped
    from synchronous fixtures."""

    app: Any
    port: int = field(default_factory=free_port)
    _serving: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> HttpServer:
        """Serve and wait until started (the lifespan ran)."""
        await self._serving.enter_async_context(serve_asgi(self.app, self.port))
        return self

    async def stop(self) -> None:
        """Shut down gracefully."""
        await self._serving.aclose()


@dataclass
class FakeDrift:
    """A real HTTP server playing the drift service: status, check and report, always happy.

    The relay's behaviour against the real drift service is tested with :func:`start_drift`.
    """

    verdict: dict[str, Any] = field(
        default_factory=lambda: {
            "drift_detected": False,
            "model": MODEL_NAME,
            "drifted_share": 0.125,
            "window_size": 500,
            "checked_at": "2025-01-01T00:00:00+00:00",
            "estimated_accuracy": 0.91,
            "reference_estimated_accuracy": 0.95,
            "estimated_accuracy_drop": 0.04,
            "calibrated": True,
            "reasons": [],
            "feature_scores": {"pixel_0_0": 0.5, "pixel_3_4": 1e-5},
            "drifted_features": ["pixel_3_4"],
            "feature_test": {
                "method": "ks",
                "name": "K-S p_value",
                "threshold": 0.001,
                "score_is_p_value": True,
            },
        }
    )
    server: HttpServer | None = None

    def app(self) -> Starlette:
        """The ASGI app."""

        async def status(_: Request) -> JSONResponse:
            return JSONResponse(self.verdict)

        async def check(_: Request) -> JSONResponse:
            return JSONResponse({**self.verdict, "retrain_job_id": None})

        async def report(_: Request) -> HTMLResponse:
            return HTMLResponse("<!doctype html><html><body>stand-in report</body></html>")

        return Starlette(
            routes=[
                Route("/v1/drift/status", status),
                Route("/v1/drift/check", check, methods=["POST"]),
                Route("/v1/drift/report", report),
            ]
        )


def write_reference_csv(path: Path, model: Path, rows: int = 300, seed: int = 7) -> Path:
    """A drift reference: random 8×8 grids with ``model``'s own predictions on them."""
    import numpy as np
    import onnxruntime as ort
    import pandas as pd

    from mlops_common.features import FEATURE_NAMES, N_FEATURES

    features = np.random.default_rng(seed).uniform(0, 16, size=(rows, N_FEATURES))
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    inputs = {session.get_inputs()[0].name: features.astype(np.float32)}
    probabilities = session.run(None, inputs)[0]
    frame = pd.DataFrame(features.astype(np.float32), columns=list(FEATURE_NAMES))
    frame["label"] = probabilities.argmax(axis=1)
    frame["prediction"] = probabilities.argmax(axis=1)
    frame["confidence"] = probabilities.max(axis=1)
    frame.to_csv(path, index=False)
    return path


def start_drift(
    loop: BackgroundLoop, redis_url: str, registry_uri: str, **overrides: Any
) -> HttpServer:
    """Start the real drift service (``mlops_drift.create_app``) on the loop; stop it after.

    It reads the traffic stream of ``redis_url`` (use a private Redis: its consumer group must
    not take entries other suites wait for) and the production reference of ``registry_uri``;
    checks run in a thread and only on request.
    """
    from mlops_drift.app import create_app as create_drift_app
    from mlops_drift.settings import DriftSettings

    values: dict[str, Any] = {
        "redis_url": redis_url,
        "mlflow_tracking_uri": registry_uri,
        "model_name": MODEL_NAME,
        "window_size": 500,
        "min_window_size": 30,
        "check_interval_s": 3600,
        "check_executor": "thread",
        "start_from": "earliest",
        "read_block_ms": 100,
        "retrain_enabled": False,
        "admin_api_keys": [DRIFT_KEY],
        **overrides,
    }
    return loop.run(HttpServer(create_drift_app(DriftSettings(**values))).start())


@pytest.fixture(scope="session")
def loop() -> Iterator[BackgroundLoop]:
    """The background event loop every server of these tests runs on."""
    background = BackgroundLoop()
    yield background
    background.close()


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Spans of every traced server of the session."""
    return InMemorySpanExporter()


@pytest.fixture(scope="session")
def tracer_provider(spans: InMemorySpanExporter) -> TracerProvider:
    """A tracer provider exporting to :func:`spans`."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return provider


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ONNX model of the contract."""
    return write_linear_model(tmp_path_factory.mktemp("model") / "linear.onnx", seed=0)


@pytest.fixture(scope="session")
def inference(
    loop: BackgroundLoop, model_path: Path, tracer_provider: TracerProvider
) -> Iterator[InferenceServer]:
    """A real inference server on a free port, serving :func:`model_path`."""
    settings = InferenceSettings(
        model_uri=str(model_path),
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        watch_redis=False,
        max_batch_wait_ms=0.5,
    )

    async def start() -> InferenceServer:
        server = await InferenceServer.create(settings, tracer_provider=tracer_provider)
        await server.start()
        return server

    server = loop.run(start())
    yield server
    loop.run(server.stop(grace=0))


@pytest.fixture(scope="session")
def inference_target(inference: InferenceServer) -> str:
    """host:port of :func:`inference`."""
    return f"127.0.0.1:{inference.port}"


@pytest.fixture(scope="session")
def drift_service(loop: BackgroundLoop) -> Iterator[FakeDrift]:
    """The stand-in drift service."""
    drift = FakeDrift()
    drift.server = loop.run(HttpServer(drift.app()).start())
    yield drift
    loop.run(drift.server.stop())


@pytest.fixture(scope="session")
def registry_uri(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> str:
    """A sqlite MLflow registry holding versions 1 and 2 of the model (2 in production)."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    register_onnx_model(uri, model_path, alias=None)
    register_onnx_model(uri, model_path, alias="production")
    return uri


GatewayFactory = Callable[..., str]


@pytest.fixture(scope="session")
def gateway_factory(
    loop: BackgroundLoop,
    redis_url: str,
    inference_target: str,
    drift_service: FakeDrift,
    registry_uri: str,
    tracer_provider: TracerProvider,
) -> Iterator[GatewayFactory]:
    """Start gateways with setting overrides; each answers its base URL. Stopped at the end."""
    started: list[HttpServer] = []
    assert drift_service.server is not None

    def start(**overrides: Any) -> str:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "inference_target": inference_target,
            "drift_url": drift_service.server.url if drift_service.server else "",
            "mlflow_tracking_uri": registry_uri,
            "admin_api_keys": [ADMIN_KEY],
            "drift_api_key": DRIFT_KEY,
            "model_name": MODEL_NAME,
            "traffic_flush_interval_s": 0.02,
            **overrides,
        }
        app = create_app(GatewaySettings(**values), tracer_provider=tracer_provider)
        server = loop.run(HttpServer(app).start())
        started.append(server)
        return server.url

    yield start
    for server in started:
        loop.run(server.stop())


@pytest.fixture(scope="session")
def gateway_url(gateway_factory: GatewayFactory) -> str:
    """The default gateway of the session."""
    return gateway_factory()


@pytest.fixture
def client(gateway_url: str) -> Iterator[httpx.Client]:
    """An HTTP client of the default gateway."""
    with httpx.Client(base_url=gateway_url, timeout=10) as http:
        yield http


def metric_value(text: str, name: str, labels: str = "") -> float:
    """Value of ``name{labels}`` in a Prometheus exposition, labels in any order (0: absent)."""
    wanted = set(labels.split('",')) if labels else set()
    wanted = {part if part.endswith('"') else part + '"' for part in wanted}
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        metric, _, rest = series.partition("{")
        if metric != name:
            continue
        found = set(rest.rstrip("}").split('",')) if rest else set()
        found = {part if part.endswith('"') else part + '"' for part in found if part}
        if wanted <= found:
            return float(value)
    return 0.0
