"""Which candidate a served model shadows, and when: the staging alias and ``rollout:<model>``.

A model served from ``models:/<name>@production`` gets a :class:`ShadowController`. On the
watcher's poll interval (and on a ``model-events`` message moving ``<name>@staging``) it asks the
registry for the ``staging`` version and reads the rollout hash
(:class:`~mlops_common.rollout.RolloutState`), then:

- no staging version, or the one production serves: the candidate is unloaded;
- another version: it is loaded (a second :class:`~mlops_inference.manager.ModelManager` on
  ``models:/<name>@staging``, with its own cache folder and few threads) and, when its inputs
  match production's and the share is above 0, set on the endpoint so answers are offered to it;
  a candidate whose inputs differ stays idle (logged and counted once per pair of versions).

A registry or Redis that does not answer changes nothing: the last known candidate and share
hold. The first sync runs when the controller starts, beside the production load, so
readiness never waits for a candidate.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from mlops_common.model_events import listen_model_events
from mlops_common.redis_keys import ModelEvent
from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING
from mlops_common.rollout import RolloutState, rollout_key
from mlops_inference.catalog import ModelConfig
from mlops_inference.endpoint import ModelEndpoint
from mlops_inference.manager import ModelManager
from mlops_inference.metrics import InferenceMetrics
from mlops_inference.model import OnnxModel
from mlops_inference.settings import InferenceSettings
from mlops_inference.shadow import Shadow, answer_tensor
from mlops_inference.source import ModelSource, RegistryRef, parse_registry_uri

log = logging.getLogger(__name__)

#: MLflow's error codes for a missing alias or registered model (a store that answered).
_ABSENT = {"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"}


class _RegistryUnknownError(Exception):
    """The registry did not answer: keep the current state."""


def _inputs(model: OnnxModel) -> list[tuple[str, str, tuple[int, ...]]]:
    return sorted((spec.name, spec.datatype, spec.shape) for spec in model.inputs)


def shadowed_ref(config: ModelConfig) -> RegistryRef | None:
    """The registry reference of a model that may be shadowed (served from its production
    alias), else ``None``."""
    ref = parse_registry_uri(config.uri)
    return ref if ref is not None and ref.alias == ALIAS_PRODUCTION else None


class ShadowController:
    """Keeps one served model's staged candidate loaded, and shadowed, while it should be."""

    def __init__(
        self,
        ref: RegistryRef,
        endpoint: ModelEndpoint,
        settings: InferenceSettings,
        metrics: InferenceMetrics,
        redis: Redis,
        cache_dir: Path,
    ) -> None:
        name = endpoint.name
        self._ref = ref
        self._endpoint = endpoint
        self._settings = settings
        self._metrics = metrics
        self._redis = redis
        self.shadow = Shadow(name, settings, metrics, redis)
        uri = f"models:/{ref.name}@{ALIAS_STAGING}"
        self._source = ModelSource(uri, settings.tracking_uri, cache_dir / "shadow" / name)
        self._manager = ModelManager(
            ModelConfig(name, uri),
            settings,
            self.shadow,
            metrics,
            cache_dir / "shadow",
            self._nothing,
            threads=settings.shadow_threads,
        )
        self._state = RolloutState()
        self._lock = asyncio.Lock()
        self._redis_ok = True
        self._refused: set[tuple[str, str]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    @staticmethod
    async def _nothing() -> None:
        """A candidate load changes no health status."""

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the shadow queue, the poll timer and the staging subscription."""
        self.shadow.start()
        loop = asyncio.get_running_loop()
        name = self._endpoint.name
        self._tasks.append(loop.create_task(self._poll(), name=f"shadow-poll:{name}"))
        if self._settings.watch_redis:
            listen = listen_model_events(
                self._settings.redis_url, self._ref.name, ALIAS_STAGING, self._on_event
            )
            self._tasks.append(loop.create_task(listen, name=f"shadow-events:{name}"))

    async def stop(self) -> None:
        """Stop watching and shadowing."""
        self._endpoint.shadow = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.shadow.stop()

    async def _poll(self) -> None:
        """Sync now (without delaying readiness), then on every poll interval."""
        while True:
            try:
                await self.sync()
            except Exception:
                log.exception("shadow refresh failed", extra={"model": self._endpoint.name})
            await asyncio.sleep(self._settings.poll_interval_s)

    async def _on_event(self, event: ModelEvent) -> None:
        await self.sync()

    # -- the decision -------------------------------------------------------------------------
    async def sync(self) -> None:
        """Bring the candidate and its share in line with the registry and the rollout hash."""
        async with self._lock:
            try:
                staging = await asyncio.to_thread(self._staging_version)
            except _RegistryUnknownError:
                staging = self.shadow.model.version if self.shadow.model else None
            production = self._endpoint.model
            if production is None or staging is None or staging == production.version:
                self._endpoint.shadow = None
                self.shadow.unload()
                return
            await self._manager.ensure(staging)
            candidate = self.shadow.model
            if candidate is None or candidate.version != staging:  # refused: nothing to run
                self._endpoint.shadow = None
                return
            if not self._compatible(candidate, production):
                self._endpoint.shadow = None
                return
            await self._read_rollout()
            share = self._state.share(self._settings.shadow_share)
            self.shadow.production_tensor = answer_tensor(production)
            self.shadow.share = share
            self._endpoint.shadow = self.shadow if share > 0.0 else None

    def _staging_version(self) -> str | None:
        """The version ``staging`` names, ``None`` when there is none (blocking)."""
        from mlflow.exceptions import MlflowException

        try:
            return self._source.current_version()
        except MlflowException as exc:
            if exc.error_code in _ABSENT:
                return None
            raise _RegistryUnknownError(str(exc)) from exc
        except Exception as exc:
            raise _RegistryUnknownError(str(exc)) from exc

    async def _read_rollout(self) -> None:
        try:
            key = rollout_key(self._endpoint.name)
            fields: dict[Any, Any] = await asyncio.to_thread(self._redis.hgetall, key)
        except (RedisError, OSError) as exc:
            if self._redis_ok:
                self._redis_ok = False
                log.warning(
                    "rollout settings not read; keeping the last ones",
                    extra={"model": self._endpoint.name, "reason": str(exc)},
                )
            return
        if not self._redis_ok:
            self._redis_ok = True
            log.info("rollout settings read again", extra={"model": self._endpoint.name})
        self._state = RolloutState.from_fields(fields)

    def _compatible(self, candidate: OnnxModel, production: OnnxModel) -> bool:
        if _inputs(candidate) == _inputs(production):
            return True
        pair = (candidate.version, production.version)
        if pair not in self._refused:
            self._refused.add(pair)
            self._metrics.shadow_incompatible.labels(self._endpoint.name).inc()
            log.warning(
                "shadow candidate not shadowed: its inputs differ from production's",
                extra={
                    "model": self._endpoint.name,
                    "version": candidate.version,
                    "production_version": production.version,
                    "candidate_inputs": _inputs(candidate),
                    "production_inputs": _inputs(production),
                },
            )
        return False
