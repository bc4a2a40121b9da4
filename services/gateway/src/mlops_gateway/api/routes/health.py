"""``/healthz`` (live), ``/readyz`` (inference reachable, model loaded) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from mlops_common.telemetry import render_metrics
from mlops_gateway.api.deps import ServicesDep
from mlops_gateway.api.responses import errors
from mlops_gateway.errors import DependencyUnavailableError, GatewayError
from mlops_gateway.schemas import HealthResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """The process is up."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=HealthResponse, responses=errors(503))
async def readyz(services: ServicesDep) -> HealthResponse:
    """Ready when inference answers, its default model is loaded and the gateway knows its spec."""
    inference = services.inference
    try:
        ready = await inference.model_ready(inference.model_name)
    except GatewayError as exc:
        raise DependencyUnavailableError("inference", f"not ready: {exc.message}") from exc
    if not ready:
        raise DependencyUnavailableError(
            "inference", f"not ready: model {inference.model_name!r} is not loaded"
        )
    try:  # and the gateway knows the served spec it checks requests against
        await services.catalog.resolve(services.catalog.default)
    except GatewayError as exc:
        raise DependencyUnavailableError("inference", f"not ready: {exc.message}") from exc
    return HealthResponse(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus metrics"}},
)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus text exposition."""
    body, content_type = render_metrics(services.metrics.registry)
    return Response(body, media_type=content_type)
