"""``python -m mlops_gateway``: read settings, set up logging and tracing, serve with uvicorn."""

from __future__ import annotations

import uvicorn

from mlops_common.logs import configure_logging
from mlops_common.telemetry import setup_tracing
from mlops_gateway.app import create_app
from mlops_gateway.settings import GatewaySettings


def main() -> None:
    """Run the gateway until interrupted."""
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level)
    provider = setup_tracing("gateway")
    try:
        uvicorn.run(
            create_app(settings, tracer_provider=provider),
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http="httptools",
            log_config=None,
            access_log=False,
            proxy_headers=True,
            timeout_graceful_shutdown=10,
        )
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
