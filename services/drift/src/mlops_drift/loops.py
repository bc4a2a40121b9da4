"""The monitor's background loops: periodic checks and the poll of the production alias."""

from __future__ import annotations

import asyncio
import logging
import time

from mlops_drift.monitor import DriftMonitor, NoReferenceError, WindowTooSmallError

log = logging.getLogger(__name__)


async def run_periodic_checks(monitor: DriftMonitor, interval_s: float, min_new_rows: int) -> None:
    """Check every ``interval_s`` when due; never dies on a failed check."""
    while True:
        await asyncio.sleep(interval_s)
        if not monitor.due(min_new_rows):
            continue
        try:
            await monitor.check()
        except (NoReferenceError, WindowTooSmallError):
            continue
        except Exception:
            log.exception("periodic drift check failed")


async def run_reference_poll(monitor: DriftMonitor, interval_s: float) -> None:
    """Poll the production alias (model-events only make a change show sooner)."""
    while True:
        started = time.monotonic()
        try:
            await monitor.refresh_reference()
        except Exception as exc:
            log.warning("registry poll failed", extra={"error": str(exc)})
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))
