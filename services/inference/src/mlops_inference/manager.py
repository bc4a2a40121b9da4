"""Loads the model the configured URI points at and swaps it in, one load at a time.

:meth:`ModelManager.refresh` asks which version the URI names now (the registry alias, the
pinned version, or the file's content hash), and when that differs from the served one loads
and warms it in a worker thread, then swaps it into the data plane. A version that fails to
load is remembered and not retried, and the old model keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from mlops_inference.dataplane import DataPlane
from mlops_inference.errors import ModelLoadError
from mlops_inference.metrics import InferenceMetrics
from mlops_inference.model import load_model
from mlops_inference.settings import InferenceSettings
from mlops_inference.source import ModelSource, RegistryRef

log = logging.getLogger(__name__)


class ModelManager:
    """Keeps the data plane serving the newest loadable version of the configured model."""

    def __init__(
        self,
        settings: InferenceSettings,
        dataplane: DataPlane,
        metrics: InferenceMetrics,
        cache_dir: Path,
        on_serving: Callable[[], Awaitable[None]],
    ) -> None:
        self._settings = settings
        self._plane = dataplane
        self._metrics = metrics
        self._source = ModelSource(settings.model_uri, settings.tracking_uri, cache_dir)
        self._on_serving = on_serving
        self._lock = asyncio.Lock()
        self._failed: set[str] = set()

    @property
    def ref(self) -> RegistryRef | None:
        """The parsed ``models:/`` reference, or ``None`` for a file."""
        return self._source.ref

    async def refresh(self) -> bool:
        """Load and swap in the version the URI names now, if new; True when it swapped."""
        async with self._lock:
            try:
                target = await asyncio.to_thread(self._source.current_version)
            except Exception as exc:
                log.warning("cannot resolve %s: %s", self._settings.model_uri, exc)
                return False
            current = self._plane.model
            if (current is not None and current.version == target) or target in self._failed:
                return False
            return await self._load(target)

    async def _load(self, version: str) -> bool:
        settings = self._settings
        log.info("loading model", extra={"model_uri": settings.model_uri, "version": version})
        try:
            model = await asyncio.to_thread(
                load_model,
                self._source,
                settings.model_name,
                threads=settings.cpu_threads(),
                version=version,
                warmup_rows=settings.max_batch_size,
            )
        except ModelLoadError as exc:
            self._failed.add(version)
            self._metrics.load_failures.inc()
            log.error(
                "model refused; the served model stays",
                extra={"version": version, "reason": str(exc)},
            )
            return False
        self._plane.swap(model)
        await self._on_serving()
        return True
