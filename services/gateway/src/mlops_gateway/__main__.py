"""``python -m mlops_gateway``: read settings, set up logging and tracing, serve with uvicorn.

uvicorn runs with uvloop and httptools, no access log, and ``GATEWAY_WORKERS`` processes (each
builds its own app through :func:`build_app`).
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from mlops_common.gc_tuning import tune_gc_for_serving
from mlops_common.logs import configure_logging
from mlops_common.settings import read_settings
from mlops_common.telemetry import otlp_endpoint_configured, setup_tracing
from mlops_gateway.app import create_app
from mlops_gateway.settings import GatewaySettings


def build_app() -> FastAPI:
    """The app as served (one per worker): settings from the environment, traced if exported."""
    settings = read_settings(GatewaySettings, "gateway")
    configure_logging("gateway", settings.log_level)
    provider = setup_tracing("gateway")  # the SDK shuts it down (and flushes) at exit
    # Spans cost CPU on every request: make them only when they are exported somewhere.
    exported = otlp_endpoint_configured() and not settings.otel_sdk_disabled
    app = create_app(settings, tracer_provider=provider if exported else None)
    tune_gc_for_serving(enabled=settings.gc_tuning)  # everything imported so far lives until exit
    return app


def main() -> None:
    """Run the gateway until interrupted."""
    settings = read_settings(GatewaySettings, "gateway")
    configure_logging("gateway", settings.log_level)
    uvicorn.run(
        "mlops_gateway.__main__:build_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
