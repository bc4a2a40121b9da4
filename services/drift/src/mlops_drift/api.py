"""HTTP routes: models, status, report, check, health and metrics. Thin: the monitors do the work.

The per-model routes take ``?model=NAME`` (default: the first of ``DRIFT_MODELS``); a model that
is not watched is a 404 ``unknown_model`` naming the watched ones.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Security
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader

from mlops_common.api_keys import API_KEY_HEADER, KeyCheck, check_key
from mlops_common.telemetry import render_metrics
from mlops_drift.catalog import Monitors, UnknownModelError
from mlops_drift.detector import DriftInputError
from mlops_drift.metrics import DriftMetrics
from mlops_drift.monitor import DriftMonitor, NoReferenceError, WindowTooSmallError
from mlops_drift.reference import ReferenceError


class NoVerdictError(LookupError):
    """No check has finished yet."""

    code = "no_verdict"


class MissingKeyError(PermissionError):
    """A state-changing route called without an admin key."""

    code = "unauthorized"


class RefusedKeyError(PermissionError):
    """A key that is not one of ``DRIFT_ADMIN_API_KEYS`` (or none is configured)."""

    code = "forbidden"


_STATUS = {
    MissingKeyError: 401,
    RefusedKeyError: 403,
    NoVerdictError: 404,
    UnknownModelError: 404,
    WindowTooSmallError: 409,
    NoReferenceError: 503,
    ReferenceError: 503,
    DriftInputError: 422,
}


def error_body(code: str, message: str) -> dict[str, Any]:
    """The one error shape: ``{"error": {"code", "message"}}``."""
    return {"error": {"code": code, "message": message}}


def install_error_handlers(app: FastAPI) -> None:
    """Map the service's typed errors to their HTTP status and the error shape."""
    for error_type, status in _STATUS.items():

        async def handler(_request: Request, exc: Exception, status: int = status) -> JSONResponse:
            code = getattr(exc, "code", "error")
            return JSONResponse(error_body(code, str(exc)), status_code=status)

        app.add_exception_handler(error_type, handler)


def _monitors(request: Request) -> Monitors:
    monitors: Monitors = request.app.state.monitors
    return monitors


def _monitor(
    request: Request,
    model: Annotated[
        str | None,
        Query(description="The model's name (default: the first of DRIFT_MODELS)."),
    ] = None,
) -> DriftMonitor:
    return _monitors(request).get(model)


def _metrics(request: Request) -> DriftMetrics:
    metrics: DriftMetrics = request.app.state.metrics
    return metrics


_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Admin key.")


async def require_admin(
    request: Request, api_key: Annotated[str | None, Security(_api_key_header)]
) -> None:
    """State-changing routes need one of ``DRIFT_ADMIN_API_KEYS`` in ``X-API-Key``."""
    checked = check_key(api_key, request.app.state.settings.admin_api_keys)
    if checked is KeyCheck.MISSING:
        raise MissingKeyError("this route needs an admin key in the X-API-Key header")
    if checked is KeyCheck.NONE_CONFIGURED:
        raise RefusedKeyError("no admin key is configured here (DRIFT_ADMIN_API_KEYS)")
    if checked is not KeyCheck.OK:
        raise RefusedKeyError("the X-API-Key is not an admin key of the drift service")


MonitorsDep = Annotated[Monitors, Depends(_monitors)]
MonitorDep = Annotated[DriftMonitor, Depends(_monitor)]
MetricsDep = Annotated[DriftMetrics, Depends(_metrics)]

router = APIRouter()


def _no_verdict(monitor: DriftMonitor) -> NoVerdictError:
    return NoVerdictError(
        f"no drift check of {monitor.name} has finished yet (window holds "
        f"{len(monitor.window)} rows, a check needs {monitor.min_window_size})"
    )


@router.get("/v1/drift/models", tags=["drift"])
async def models(monitors: MonitorsDep) -> dict[str, Any]:
    """The watched models: ``{"models": [{"name", "version", "columns", "window_size",
    "last_check"}]}`` — the version whose reference is loaded (null: none yet), the monitored
    columns, the rows in the window and the latest verdict (null: none yet)."""
    return {"models": [monitor.summary() for monitor in monitors]}


@router.get("/v1/drift/status", tags=["drift"])
async def status(monitor: MonitorDep) -> dict[str, Any]:
    """The model's latest verdict: ``model, drift_detected, drifted_share, window_size,
    checked_at, reasons``, the per-feature scores, and the window's label-free accuracy estimate
    ``estimated_accuracy, reference_estimated_accuracy, estimated_accuracy_drop, calibrated``.

    404 until the first check has finished.
    """
    if monitor.last is None:
        raise _no_verdict(monitor)
    return monitor.status()


@router.post("/v1/drift/check", tags=["drift"], dependencies=[Depends(require_admin)])
async def check(monitor: MonitorDep) -> dict[str, Any]:
    """Check the model's window now; answers the verdict, the accuracy estimate and the id of a
    retrain it queued (or null).

    401 without an admin key (``X-API-Key``), 403 with a wrong one, 409 when the window is
    smaller than the minimum, 503 when no reference is loaded.
    """
    outcome = await monitor.check()
    return {**outcome.status(), "retrain_job_id": outcome.retrain_job_id}


@router.get("/v1/drift/report", tags=["drift"], response_class=HTMLResponse)
async def report(monitor: MonitorDep) -> HTMLResponse:
    """The Evidently HTML report of the last check (built on first request, then cached)."""
    html = await monitor.report.html()
    if html is None:
        raise NoVerdictError(
            f"no drift check of {monitor.name} has finished yet, so there is no report"
        )
    return HTMLResponse(html)


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/metrics", tags=["health"])
async def metrics(monitors: MonitorsDep, registry: MetricsDep) -> Response:
    """Prometheus metrics."""
    for monitor in monitors:
        monitor.metrics.window_size.set(len(monitor.window))
    body, content_type = render_metrics(registry.registry)
    return Response(body, media_type=content_type)
