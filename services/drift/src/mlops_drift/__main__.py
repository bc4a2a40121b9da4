"""``python -m mlops_drift``: read settings, set up logging and tracing, serve with uvicorn."""

from __future__ import annotations

import uvicorn

from mlops_common.logs import configure_logging
from mlops_common.settings import read_settings
from mlops_common.telemetry import setup_tracing
from mlops_drift.app import create_app
from mlops_drift.settings import DriftSettings


def main() -> None:
    """Run the drift service until interrupted."""
    settings = read_settings(DriftSettings, "drift")
    configure_logging("drift", settings.log_level)
    provider = setup_tracing("drift")
    try:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
