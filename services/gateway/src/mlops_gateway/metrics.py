"""Prometheus metrics of the gateway (names fixed in docs/contracts.md) and the ASGI middleware
that counts requests, times them and carries ``X-Request-ID`` in and out."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops_common.telemetry import latency_histogram

REQUEST_ID_HEADER: Final = b"x-request-id"
_SAFE_REQUEST_ID: Final = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


class GatewayMetrics:
    """The gateway's metrics in their own registry (one per app, so tests can build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gateway_requests_total",
            "HTTP requests by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.request_duration = latency_histogram(
            "gateway_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ("route", "method"),
            registry=self.registry,
        )
        self.inference_duration = latency_histogram(
            "gateway_inference_duration_seconds",
            "Latency of predictions' ModelInfer calls to the inference service (a merged "
            "prediction's includes its wait for the call).",
            registry=self.registry,
        )
        self.call_requests = Histogram(
            "gateway_inference_call_requests",
            "Predictions each ModelInfer call to inference carried (more than 1: merged).",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.traffic_buffer_depth = Gauge(
            "gateway_traffic_buffer_depth",
            "Traffic entries waiting in memory for Redis.",
            registry=self.registry,
        )
        self.traffic_dropped = Counter(
            "gateway_traffic_dropped",
            "Traffic entries dropped (buffer full or Redis down).",
            registry=self.registry,
        )
        self.traffic_logged = Counter(
            "gateway_traffic_logged",
            "Traffic entries written to the Redis stream.",
            registry=self.registry,
        )


def _request_id(scope: Scope) -> tuple[str, bool]:
    """The request's id, and whether the gateway made it (then it is unique: a random UUID)."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and _SAFE_REQUEST_ID.match(value):
            return str(value.decode()), False
    return uuid.uuid4().hex, True


class RequestContextMiddleware:
    """Request id in and out, request counts and latency by route template."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics
        # Labelled children by (route, method, status): a dict hit instead of labels() per request.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _observe(self, template: str, method: str, status: int, seconds: float) -> None:
        key = (template, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.metrics.requests.labels(template, method, str(status)),
                self.metrics.request_duration.labels(template, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id, generated = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["request_id_unique"] = generated
        header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self._observe(template, scope["method"], status, time.perf_counter() - start)
