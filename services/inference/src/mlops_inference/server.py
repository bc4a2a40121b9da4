"""Composition root of the inference service: model manager → data plane → gRPC servers.

Start a server in-process (tests of other services do this)::

    from mlops_inference.server import InferenceServer
    from mlops_inference.settings import InferenceSettings

    settings = InferenceSettings(model_uri=str(onnx_path), port=0, metrics_port=0)  # 0 = free port
    server = await InferenceServer.create(settings)
    await server.start()          # binds, loads and warms the model, then health says SERVING
    target = f"127.0.0.1:{server.port}"   # metrics on http://127.0.0.1:{server.metrics_port}/metrics
    ...
    await server.stop()

or, as a fixture, ``async with InferenceServer.running(settings) as server: ...``.
``start(wait_for_model=False)`` returns as soon as the port is bound (health NOT_SERVING until
the models are loaded). ``model_uri`` may also be ``models:/digits-classifier@production`` (with
``mlflow_tracking_uri=...``); then a watcher polls the alias and listens on ``model-events``.
The served name is ``settings.model_name`` (default ``digits-classifier``). Several models::

    settings = InferenceSettings(models=f"digits-classifier={a},iris={b}", port=0, metrics_port=0)

Each model has its own manager (load, swap) and watcher; one that fails to load stays
not-ready while the others serve. Health: the services ``""`` and
``inference.GRPCInferenceService`` are SERVING when every model is (ServerReady), and each
model's name is a health service of its own, SERVING while that model is loaded. The health
service ``inference/live`` (``LIVENESS_SERVICE``) is SERVING from start to shutdown whatever the
models do: liveness probes check it, so one broken model never gets the process restarted.
A model served from its ``production`` alias also gets a
:class:`~mlops_inference.candidate.ShadowController` (unless ``INFERENCE_SHADOW=false``), which
shadows its ``staging`` version. Every model's answered and failed requests per version go to
``outcomes:<model>`` (:class:`~mlops_inference.outcomes.OutcomeWriter`, for drift's probation);
shadow and outcomes share one Redis client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.trace import TracerProvider
from prometheus_client import start_http_server
from redis import Redis

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_inference.candidate import ShadowController, shadowed_ref
from mlops_inference.catalog import ModelConfig
from mlops_inference.dataplane import DataPlane
from mlops_inference.manager import ModelManager
from mlops_inference.metrics import InferenceMetrics
from mlops_inference.outcomes import OutcomeWriter
from mlops_inference.servicer import InferenceServicer
from mlops_inference.settings import InferenceSettings
from mlops_inference.watcher import ModelWatcher

log = logging.getLogger(__name__)

INFERENCE_SERVICE = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
#: Health services that follow ServerReady (every model ready); each model's name is one too.
HEALTH_SERVICES = ("", INFERENCE_SERVICE)
#: SERVING while the process answers gRPC (liveness); the '/' keeps it apart from model names.
LIVENESS_SERVICE = "inference/live"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _interceptors(tracer_provider: TracerProvider | None) -> list[Any]:
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor(tracer_provider=tracer_provider)]  # type: ignore[no-untyped-call]


def _close_http(http: Any) -> None:
    http.shutdown()
    http.server_close()


class InferenceServer:
    """The running service: gRPC (inference, health, reflection) plus the metrics endpoint."""

    def __init__(
        self,
        settings: InferenceSettings,
        grpc_server: grpc.aio.Server,
        port: int,
        dataplane: DataPlane,
        health_servicer: health.aio.HealthServicer,
        metrics: InferenceMetrics,
        cache_dir: Path,
        configs: tuple[ModelConfig, ...],
    ) -> None:
        self.settings = settings
        self.port = port
        self.dataplane = dataplane
        self.metrics = metrics
        self.metrics_port: int | None = None
        self._grpc = grpc_server
        self._health = health_servicer
        self._cache_dir = cache_dir
        #: One manager (load, swap) and one watcher per served model, by served name.
        self.managers = {
            config.name: ModelManager(
                config,
                settings,
                dataplane.endpoints[config.name],
                metrics,
                cache_dir,
                self._sync_health,
            )
            for config in configs
        }
        self.watchers = [ModelWatcher(settings, manager) for manager in self.managers.values()]
        # Short timeouts: a dead Redis only drops shadow records and delays outcome counts.
        self._redis = Redis.from_url(
            settings.redis_url, socket_connect_timeout=1.0, socket_timeout=1.0
        )
        #: Answered/failed requests per version of every served model, added to Redis.
        self.outcomes = OutcomeWriter(
            self._redis, {name: e.outcomes for name, e in dataplane.endpoints.items()}
        )
        #: Shadow evaluation of each model served from its production alias, by served name.
        self.shadows: dict[str, ShadowController] = {}
        refs = {config.name: shadowed_ref(config) for config in configs} if settings.shadow else {}
        for name, ref in refs.items():
            if ref is not None:
                self.shadows[name] = ShadowController(
                    ref, dataplane.endpoints[name], settings, metrics, self._redis, cache_dir
                )
        self._health_lock = asyncio.Lock()
        self._stopping = False
        self._metrics_http: Any = None

    @classmethod
    async def create(
        cls, settings: InferenceSettings, *, tracer_provider: TracerProvider | None = None
    ) -> InferenceServer:
        """Build every part and bind the gRPC port (nothing is served before :meth:`start`).

        Server spans go to ``tracer_provider``; with none given (and ``settings.tracing``
        unset) no span is made, so requests pay nothing for tracing that nobody exports.
        """
        configs = settings.served_models()
        metrics = InferenceMetrics()
        dataplane = DataPlane(settings, metrics, [config.name for config in configs])
        options = [
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        traced = settings.tracing if settings.tracing is not None else tracer_provider is not None
        interceptors = _interceptors(tracer_provider) if traced else []
        server = grpc.aio.server(interceptors=interceptors, options=options)
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(
            InferenceServicer(dataplane, metrics), server
        )
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (INFERENCE_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        port = server.add_insecure_port(f"{settings.host}:{settings.port}")
        if port == 0:
            raise OSError(f"could not bind gRPC port {settings.host}:{settings.port}")
        cache_dir = Path(tempfile.mkdtemp(prefix="mlops-inference-"))
        return cls(settings, server, port, dataplane, health_servicer, metrics, cache_dir, configs)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls, settings: InferenceSettings, *, wait_for_model: bool = True
    ) -> AsyncIterator[InferenceServer]:
        """Create, start, yield, and stop a server."""
        server = await cls.create(settings)
        await server.start(wait_for_model=wait_for_model)
        try:
            yield server
        finally:
            await server.stop()

    async def _sync_health(self) -> None:
        """Health statuses from readiness: the server's services and one per model."""
        if self._stopping:  # a load finishing during shutdown must not turn health back on
            return
        async with self._health_lock:
            overall = SERVING if self.dataplane.ready() else NOT_SERVING
            for service in HEALTH_SERVICES:
                await self._health.set(service, overall)
            for name, endpoint in self.dataplane.endpoints.items():
                await self._health.set(name, SERVING if endpoint.ready else NOT_SERVING)
        for name, endpoint in self.dataplane.endpoints.items():
            if not endpoint.ready and endpoint.error is not None:
                reason = endpoint.not_ready_reason()
                log.warning("model not ready", extra={"model": name, "reason": reason})

    async def _refresh_all(self) -> None:
        await asyncio.gather(*(manager.refresh() for manager in self.managers.values()))

    async def start(self, *, wait_for_model: bool = True) -> None:
        """Serve: bind, load the models (awaited unless ``wait_for_model=False``), watch."""
        await self._health.set(LIVENESS_SERVICE, SERVING)
        await self._sync_health()
        self.dataplane.start()
        await self._grpc.start()
        if self.settings.metrics_port >= 0:
            http, _thread = start_http_server(
                self.settings.metrics_port, addr=self.settings.host, registry=self.metrics.registry
            )
            self._metrics_http = http
            self.metrics_port = int(http.server_port)
        log.info(
            "inference server listening",
            extra={"port": self.port, "metrics_port": self.metrics_port},
        )
        if wait_for_model:
            await self._refresh_all()
        else:
            self._initial = asyncio.get_running_loop().create_task(self._refresh_all())
        for watcher in self.watchers:
            watcher.start()
        for shadow in self.shadows.values():
            shadow.start()
        self.outcomes.start()

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking requests, let in-flight ones finish (up to ``grace`` s), shut down."""
        self._stopping = True
        await self._health.enter_graceful_shutdown()
        for watcher in self.watchers:
            await watcher.stop()
        await self._grpc.stop(self.settings.grace_period_s if grace is None else grace)
        for shadow in self.shadows.values():
            await shadow.stop()
        await self.outcomes.stop()
        self._redis.close()
        await self.dataplane.stop()
        if self._metrics_http is not None:
            # shutdown() waits for the serving thread's next poll (0.5 s): do not wait for it.
            http = self._metrics_http
            threading.Thread(target=_close_http, args=(http,), daemon=True).start()
        shutil.rmtree(self._cache_dir, ignore_errors=True)
        log.info("inference server stopped")

    async def wait_for_termination(self) -> None:
        """Block until the gRPC server stops."""
        await self._grpc.wait_for_termination()
