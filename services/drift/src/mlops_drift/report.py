"""The Evidently HTML report of the last check: built on first request, in the worker, then kept."""

from __future__ import annotations

import asyncio

import pandas as pd

from mlops_drift.columns import MonitoredColumns
from mlops_drift.detector import DriftConfig, render_report
from mlops_drift.worker import CheckWorker


class ReportCache:
    """Holds the frames of the last check and, once asked for, their report."""

    def __init__(self, worker: CheckWorker, config: DriftConfig) -> None:
        self._worker = worker
        self._config = config
        self._frames: tuple[pd.DataFrame, pd.DataFrame, MonitoredColumns] | None = None
        self._built: tuple[tuple[pd.DataFrame, pd.DataFrame, MonitoredColumns], str] | None = None
        self._lock = asyncio.Lock()

    def checked(
        self, reference: pd.DataFrame, window: pd.DataFrame, columns: MonitoredColumns
    ) -> None:
        """A check of ``window`` against ``reference`` on ``columns`` finished: the report is
        about them now."""
        self._frames = (reference, window, columns)

    def forget(self) -> None:
        """Drop the frames and the report (the model they were about was replaced)."""
        self._frames = self._built = None

    async def html(self) -> str | None:
        """The report of the last check (slow the first time: seconds), or None before one."""
        async with self._lock:
            frames = self._frames
            if frames is None:
                return None
            if self._built is None or self._built[0] is not frames:
                reference, window, columns = frames
                html = await self._worker.run(
                    render_report, reference, window, self._config, columns
                )
                self._built = (frames, html)
            return self._built[1]
