"""The app factory: ``create_app(settings)`` builds the FastAPI app and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import TracerProvider

from mlops_gateway import __version__
from mlops_gateway.api.fast_predict import FastPredict
from mlops_gateway.api.routes import (
    drift,
    feedback,
    health,
    jobs,
    model,
    models,
    oip,
    predict,
    rollout,
)
from mlops_gateway.errors import install_error_handlers
from mlops_gateway.limits import LimitsMiddleware, TokenBucketLimiter
from mlops_gateway.metrics import GatewayMetrics, RequestContextMiddleware
from mlops_gateway.services import open_services
from mlops_gateway.settings import GatewaySettings

_NOT_TRACED = "healthz,readyz,metrics"


def create_app(
    settings: GatewaySettings, *, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """Build the gateway for ``settings``; clients open in the lifespan, close after it.

    With a ``tracer_provider``, HTTP server spans and gRPC client spans go there (one trace
    runs on into inference); without one no span is made at all, so requests pay nothing for
    tracing that nobody exports (``__main__`` passes one only when an OTLP endpoint is set;
    tests pass their own with an in-memory exporter).
    """
    provider = tracer_provider
    metrics = GatewayMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, metrics, provider) as services:
            app.state.services = services
            yield

    app = FastAPI(
        title="MLOps gateway",
        version=__version__,
        summary="Predictions of every served model over gRPC, feedback, retraining jobs, drift "
        "and model admin.",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry layer is off: the instrumentor below does the tracing.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.metrics = metrics
    for module in (predict, models, rollout, feedback, jobs, model, drift, oip, health):
        app.include_router(module.router)
    install_error_handlers(app)
    limiter = (
        TokenBucketLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        if settings.rate_limit_per_s > 0
        else None
    )
    # Added first, so it runs innermost: inside the limits and the request context.
    app.add_middleware(FastPredict, fastapi_app=app)
    app.add_middleware(LimitsMiddleware, max_body_bytes=settings.max_body_bytes, limiter=limiter)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    if provider is not None:
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=provider,
            excluded_urls=_NOT_TRACED,
            exclude_spans=["receive", "send"],
        )
    return app
