"""HTTP routes: status, report, check, health and metrics. Thin: the monitor does the work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mlops_common.telemetry import render_metrics
from mlops_drift.detector import DriftInputError
from mlops_drift.metrics import DriftMetrics
from mlops_drift.monitor import DriftMonitor, NoReferenceError, WindowTooSmallError
from mlops_drift.reference import ReferenceError


class NoVerdictError(LookupError):
    """No check has finished yet."""

    code = "no_verdict"


_STATUS = {
    NoVerdictError: 404,
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


def _monitor(request: Request) -> DriftMonitor:
    monitor: DriftMonitor = request.app.state.monitor
    return monitor


def _metrics(request: Request) -> DriftMetrics:
    metrics: DriftMetrics = request.app.state.metrics
    return metrics


MonitorDep = Annotated[DriftMonitor, Depends(_monitor)]
MetricsDep = Annotated[DriftMetrics, Depends(_metrics)]

router = APIRouter()


@router.get("/v1/drift/status", tags=["drift"])
async def status(monitor: MonitorDep) -> dict[str, Any]:
    """The latest verdict: ``drift_detected, drifted_share, window_size, checked_at, reasons``.

    404 until the first check has finished.
    """
    if monitor.last is None:
        raise NoVerdictError(
            f"no drift check has finished yet (window holds {len(monitor.window)} rows, "
            f"a check needs {monitor.min_window_size})"
        )
    return monitor.last.status()


@router.post("/v1/drift/check", tags=["drift"])
async def check(monitor: MonitorDep) -> dict[str, Any]:
    """Check the window now; answers the verdict and the id of a retrain it queued (or null).

    409 when the window is smaller than the minimum, 503 when no reference is loaded.
    """
    outcome = await monitor.check()
    return {**outcome.verdict.status(), "retrain_job_id": outcome.retrain_job_id}


@router.get("/v1/drift/report", tags=["drift"], response_class=HTMLResponse)
async def report(monitor: MonitorDep) -> HTMLResponse:
    """The Evidently HTML report of the last check (built on first request, then cached)."""
    html = await monitor.report.html()
    if html is None:
        raise NoVerdictError("no drift check has finished yet, so there is no report")
    return HTMLResponse(html)


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/metrics", tags=["health"])
async def metrics(monitor: MonitorDep, registry: MetricsDep) -> Response:
    """Prometheus metrics."""
    registry.window_size.set(len(monitor.window))
    body, content_type = render_metrics(registry.registry)
    return Response(body, media_type=content_type)
