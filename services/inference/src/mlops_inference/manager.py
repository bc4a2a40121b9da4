"""Loads the version one served model's URI points at and swaps it in, one load at a time.

There is one :class:`ModelManager` per served model, so models load, fail and swap on their
own. :meth:`ModelManager.refresh` asks which version the URI names now (the registry alias,
the pinned version, or the file's content hash), and when that differs from the served one
loads and warms it in a worker thread, then swaps it into the model's endpoint. A version that
fails to load is remembered and not retried, the old model (if any) keeps serving, and the
error is kept on the endpoint so readiness can tell why the model is not served.

A manager loads into any :class:`ModelSlot`: a served model's endpoint, or the candidate slot
of shadow evaluation (:mod:`mlops_inference.candidate`), which loads a given version with
:meth:`ModelManager.ensure` instead of following the URI.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from mlops_inference.catalog import ModelConfig
from mlops_inference.errors import ModelLoadError
from mlops_inference.metrics import InferenceMetrics
from mlops_inference.model import OnnxModel, load_model
from mlops_inference.settings import InferenceSettings
from mlops_inference.source import ModelSource, RegistryRef

log = logging.getLogger(__name__)


class ModelSlot(Protocol):
    """Where a manager puts what it loads (a :class:`~mlops_inference.endpoint.ModelEndpoint`)."""

    error: str | None

    @property
    def model(self) -> OnnxModel | None:
        """The model held now."""
        ...

    def swap(self, model: OnnxModel) -> OnnxModel | None:
        """Hold ``model`` from now on; return the old one."""
        ...

    def fail(self, reason: str) -> None:
        """Remember why a load failed."""
        ...


class ModelManager:
    """Keeps one endpoint serving the newest loadable version of its configured model."""

    def __init__(
        self,
        config: ModelConfig,
        settings: InferenceSettings,
        endpoint: ModelSlot,
        metrics: InferenceMetrics,
        cache_dir: Path,
        on_change: Callable[[], Awaitable[None]],
        *,
        threads: int | None = None,
    ) -> None:
        self.config = config
        self._settings = settings
        self._endpoint = endpoint
        self._metrics = metrics
        # Each served name downloads into its own folder: two names may share a registry model.
        self._source = ModelSource(config.uri, settings.tracking_uri, cache_dir / config.name)
        self._on_change = on_change
        self._threads = threads or settings.cpu_threads()
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
                reason = f"cannot resolve {self.config.uri}: {exc}"
                log.warning(
                    "model not resolved", extra={"model": self.config.name, "reason": reason}
                )
                if self._endpoint.model is None:
                    await self._failed_load(reason)
                return False
            return await self._ensure(target)

    async def ensure(self, version: str) -> bool:
        """Load and swap in ``version`` unless it is held already or was refused before."""
        async with self._lock:
            return await self._ensure(version)

    async def _ensure(self, version: str) -> bool:
        current = self._endpoint.model
        if (current is not None and current.version == version) or version in self._failed:
            return False
        return await self._load(version)

    async def _failed_load(self, reason: str) -> None:
        changed = self._endpoint.error != reason
        self._endpoint.fail(reason)
        if changed:
            await self._on_change()

    async def _load(self, version: str) -> bool:
        settings, name = self._settings, self.config.name
        log.info(
            "loading model", extra={"model": name, "model_uri": self.config.uri, "version": version}
        )
        try:
            model = await asyncio.to_thread(
                load_model,
                self._source,
                name,
                threads=self._threads,
                version=version,
                warmup_rows=settings.max_batch_size,
            )
        except ModelLoadError as exc:
            self._failed.add(version)
            self._metrics.load_failures.inc()
            serving = self._endpoint.model
            log.error(
                "model refused; the served version stays" if serving else "model not loaded",
                extra={"model": name, "version": version, "reason": str(exc)},
            )
            await self._failed_load(f"version {version} refused: {exc}")
            return False
        self._endpoint.swap(model)
        await self._on_change()
        return True
