"""``python -m mlops_inference``: read settings from the environment, set up telemetry, serve."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import uvloop

from mlops_common.gc_tuning import tune_gc_for_serving
from mlops_common.logs import configure_logging
from mlops_common.settings import read_settings
from mlops_common.telemetry import otlp_endpoint_configured, setup_tracing
from mlops_inference.server import InferenceServer
from mlops_inference.settings import InferenceSettings

log = logging.getLogger("mlops_inference")


async def serve(settings: InferenceSettings) -> None:
    """Run the server until SIGTERM/SIGINT, then stop gracefully."""
    provider = setup_tracing("inference")
    # Spans cost CPU on every request: make them only when they are exported somewhere.
    exported = otlp_endpoint_configured() and not settings.otel_sdk_disabled
    server = await InferenceServer.create(settings, tracer_provider=provider if exported else None)
    await server.start(wait_for_model=False)
    tune_gc_for_serving(enabled=settings.gc_tuning)  # everything imported so far lives until exit
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    provider.shutdown()


def main() -> None:
    """Entry point."""
    settings = read_settings(InferenceSettings, "inference")
    configure_logging("inference", settings.log_level)
    sys.setswitchinterval(settings.gil_switch_interval_ms / 1000.0)
    uvloop.run(serve(settings))  # grpc.aio on uvloop: less CPU and latency per call


if __name__ == "__main__":
    main()
