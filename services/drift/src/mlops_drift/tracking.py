"""Which reference the checks compare against: the production version's reference and spec,
followed as production moves."""

from __future__ import annotations

import asyncio
import logging

from mlops_common.redis_keys import TrafficEntry
from mlops_drift.metrics import ModelMetrics
from mlops_drift.reference import Reference, ReferenceError, RegistryReferenceSource

log = logging.getLogger(__name__)


class ReferenceTracker:
    """The loaded reference of the production version, and the version production replaced.

    Owned by the event loop; the registry is read in a thread.
    """

    def __init__(self, source: RegistryReferenceSource, metrics: ModelMetrics) -> None:
        self.source = source
        self._metrics = metrics
        self.current: Reference | None = None
        #: Why the production version's reference or spec could not be loaded, if it could not.
        self.error: str | None = None
        self._retired_version: str | None = None
        self._lock = asyncio.Lock()

    @property
    def width(self) -> int | None:
        """Values a traffic entry of the loaded spec logs per instance (its input's values, or a
        text model's ``output:<tensor>:<i>`` values; None: none loaded, or not fixed)."""
        return self.current.spec.logged_width if self.current is not None else None

    def accept(self, entry: TrafficEntry) -> bool:
        """Keep traffic unless it was answered by the model version production replaced."""
        return entry.model_version != self._retired_version

    async def refresh(self) -> bool:
        """Load the production version's reference and spec if production moved.

        Returns True when the new reference replaced an earlier one: what was measured against
        that one (window, verdict) is about the old model now.
        """
        async with self._lock:
            version = await asyncio.to_thread(self.source.production_version)
            current = self.current.version if self.current else None
            if version is None or version == current:
                return False
            try:
                reference = await asyncio.to_thread(self.source.load, version)
            except ReferenceError as exc:
                if self.error != str(exc):  # the poll retries: log each new reason once
                    log.error(
                        "reference not loaded",
                        extra={"model": self.source.model_name, "error": str(exc)},
                    )
                self.error = str(exc)
                return False
            if current is not None:
                self._retired_version = current.version
            self.current, self.error = reference, None
            self._metrics.set_reference(version.version)
            log.info(
                "reference loaded",
                extra={
                    "model": version.name,
                    "model_version": version.version,
                    "rows": len(reference),
                    "columns": len(reference.columns.names),
                },
            )
            return current is not None
