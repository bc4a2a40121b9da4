"""The monitors' background loops: periodic checks and the poll of each production alias."""

from __future__ import annotations

import asyncio
import logging
import time

from mlops_drift.catalog import Monitors
from mlops_drift.monitor import DriftMonitor, NoReferenceError, WindowTooSmallError

log = logging.getLogger(__name__)


async def run_periodic_checks(monitors: Monitors, interval_s: float, min_new_rows: int) -> None:
    """Check every model that is due, every ``interval_s``; never dies on a failed check."""
    while True:
        await asyncio.sleep(interval_s)
        for monitor in monitors:
            if not monitor.due(min_new_rows):
                continue
            try:
                await monitor.check()
            except (NoReferenceError, WindowTooSmallError):
                continue
            except Exception:
                log.exception("periodic drift check failed", extra={"model": monitor.name})


async def refresh_reference(monitor: DriftMonitor) -> None:
    """Follow ``monitor``'s production version; a failure is logged (the next poll retries)."""
    try:
        await monitor.refresh_reference()
    except Exception as exc:
        log.warning("registry poll failed", extra={"model": monitor.name, "error": str(exc)})


async def run_reference_poll(monitors: Monitors, interval_s: float) -> None:
    """Poll every model's production alias (model-events only make a change show sooner); one
    model's failure never holds up another's."""
    while True:
        started = time.monotonic()
        await asyncio.gather(*(refresh_reference(monitor) for monitor in monitors))
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))
