"""The data plane: what the protocol's calls mean, independent of the transport.

It routes every call to the :class:`~mlops_inference.endpoint.ModelEndpoint` of the named
model (one dict lookup, whatever the number of served models) and answers the server-wide
questions. The server is ready when every served model is ready, as MLServer and KServe define
it; each model's own readiness is :meth:`DataPlane.model_ready`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from mlops_inference import __version__
from mlops_inference.endpoint import ModelEndpoint
from mlops_inference.errors import ModelNotFoundError, ModelNotReadyError, ShuttingDownError
from mlops_inference.messages import InferRequest, InferResponse
from mlops_inference.metrics import InferenceMetrics
from mlops_inference.model import OnnxModel
from mlops_inference.settings import InferenceSettings

log = logging.getLogger(__name__)

SERVER_NAME = "mlops-inference"


class DataPlane:
    """Serves the configured model names, each through its own :class:`ModelEndpoint`."""

    def __init__(
        self, settings: InferenceSettings, metrics: InferenceMetrics, names: Sequence[str]
    ) -> None:
        if not names:
            raise ValueError("a data plane serves at least one model")
        self.settings = settings
        self.metrics = metrics
        self._closed = False
        self._workers: ThreadPoolExecutor | None = None
        if not settings.batching:  # one pool for every model's unbatched runs
            self._workers = ThreadPoolExecutor(
                settings.worker_threads(), thread_name_prefix="infer"
            )
        #: Served name → endpoint, in the configured order.
        self.endpoints = {
            name: ModelEndpoint(name, settings, metrics, self._workers) for name in names
        }
        self._served_text = ", ".join(repr(name) for name in names)
        endpoints = tuple(self.endpoints.values())
        metrics.queue_depth.set_function(lambda: sum(e.depth for e in endpoints))

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start every model's batching loop (call on the serving event loop)."""
        for endpoint in self.endpoints.values():
            endpoint.start()

    async def stop(self) -> None:
        """Finish running work and refuse more."""
        self._closed = True
        for endpoint in self.endpoints.values():
            await endpoint.stop()
        if self._workers is not None:
            self._workers.shutdown(wait=True)

    # -- routing -------------------------------------------------------------------------
    def endpoint(self, name: str) -> ModelEndpoint:
        """The endpoint serving ``name``; NOT_FOUND naming the served models otherwise."""
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise ModelNotFoundError(
                f"unknown model {name!r}; this server serves {self._served_text}"
            )
        return endpoint

    def metric_label(self, name: str) -> str:
        """``name`` when it is served, else ``""`` (unknown names must not grow the metrics)."""
        return name if name in self.endpoints else ""

    # -- health and metadata ---------------------------------------------------------------
    def ready(self) -> bool:
        """True while every served model is loaded and the server takes work."""
        return not self._closed and all(e.ready for e in self.endpoints.values())

    def not_ready(self) -> dict[str, str]:
        """Each model that is not ready, with the reason (empty when all are ready)."""
        return {
            name: endpoint.not_ready_reason()
            for name, endpoint in self.endpoints.items()
            if not endpoint.ready
        }

    def model_ready(self, name: str, version: str = "") -> bool:
        """True when ``name`` (at ``version``, if given) is loaded and ready."""
        endpoint = self.endpoints.get(name)
        if endpoint is None or self._closed:
            return False
        try:
            endpoint.require(version)
        except (ModelNotFoundError, ModelNotReadyError):
            return False
        return endpoint.ready

    def index(self, ready_only: bool = False) -> list[tuple[str, str, str, str]]:
        """``(name, version, state, reason)`` of every served model, in the configured order.

        ``state`` is ``READY`` or ``UNAVAILABLE`` (not loaded: the reason says why); a model
        whose new version failed to load while an older one serves is ``READY`` with that
        reason.
        """
        rows = []
        for name, endpoint in self.endpoints.items():
            model = endpoint.model
            ready = endpoint.ready and not self._closed
            if ready_only and not ready:
                continue
            reason = "" if ready and endpoint.error is None else endpoint.not_ready_reason()
            version = model.version if model is not None else ""
            rows.append((name, version, "READY" if ready else "UNAVAILABLE", reason))
        return rows

    def model_metadata(self, name: str, version: str = "") -> OnnxModel:
        """The loaded model, for its metadata; NOT_FOUND / UNAVAILABLE errors otherwise."""
        return self.endpoint(name).require(version)

    @staticmethod
    def server_metadata() -> tuple[str, str, list[str]]:
        """Server name, version and supported extensions."""
        return SERVER_NAME, __version__, []

    # -- inference ----------------------------------------------------------------------
    async def infer(self, request: InferRequest) -> InferResponse:
        """Run ``request`` on the model it names."""
        if self._closed:
            raise ShuttingDownError("the server is shutting down")
        return await self.endpoint(request.model_name).infer(request)
