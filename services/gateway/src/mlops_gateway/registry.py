"""Model information and promotion through the MLflow registry.

The MLflow client blocks, so every call runs in a worker thread. Promotion is
:func:`mlops_common.promotion.promote`: it moves the ``production`` alias, records it for
rollback, and announces it on ``model-events`` through this service's Redis client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from mlops_common.registry import ALIAS_PRODUCTION
from mlops_gateway.errors import DeadlineExceededError, DependencyUnavailableError, NotFoundError

log = logging.getLogger(__name__)

MAX_LISTED_VERSIONS = 50


@dataclass(frozen=True, slots=True)
class ModelVersionInfo:
    """One registered version as the API shows it."""

    name: str
    version: str
    aliases: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    created_at: str | None = None
    run_id: str | None = None


def _iso(millis: int | None) -> str | None:
    if not millis:
        return None
    return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC).isoformat()


class ModelRegistry:
    """Reads and moves aliases of registered models (``model_name`` when none is named)."""

    def __init__(
        self, tracking_uri: str, model_name: str, redis: Redis, timeout_s: float = 10.0
    ) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.timeout_s = timeout_s
        self._redis = redis
        self._client: Any = None

    def _mlflow(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient  # imported late: it is slow

            self._client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
            )
        return self._client

    async def _run(self, fn: Any, *args: Any) -> Any:
        from mlflow.exceptions import MlflowException

        from mlops_common.promotion import PromotionError  # imported late: it loads mlflow

        try:
            async with asyncio.timeout(self.timeout_s):
                return await asyncio.to_thread(fn, *args)
        except TimeoutError as exc:
            raise DeadlineExceededError(
                f"the model registry did not answer within {self.timeout_s:g}s"
            ) from exc
        except PromotionError as exc:  # the version (or model) does not exist
            raise NotFoundError(f"model registry: {exc}") from exc
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                raise NotFoundError(f"model registry: {exc.message}") from exc
            if exc.error_code == "INVALID_PARAMETER_VALUE":
                raise NotFoundError(f"model registry: {exc.message}") from exc
            raise DependencyUnavailableError("registry", f"model registry: {exc}") from exc
        except (OSError, RuntimeError) as exc:
            raise DependencyUnavailableError("registry", f"model registry: {exc}") from exc

    def _info(self, mv: Any, aliases: list[str] | None = None) -> ModelVersionInfo:
        metrics: dict[str, float] = {}
        if mv.run_id:
            try:
                metrics = dict(self._mlflow().get_run(mv.run_id).data.metrics)
            except Exception:  # a deleted run must not hide the version
                log.warning("no run %s for version %s", mv.run_id, mv.version)
        return ModelVersionInfo(
            name=mv.name,
            version=str(mv.version),
            aliases=sorted(aliases if aliases is not None else getattr(mv, "aliases", []) or []),
            metrics=metrics,
            created_at=_iso(mv.creation_timestamp),
            run_id=mv.run_id or None,
        )

    async def version(self, version: str, name: str | None = None) -> ModelVersionInfo:
        """One registered version; 404 when unknown."""
        name = name or self.model_name
        if not version.isdigit():
            raise NotFoundError(f"no version {version!r} of {name!r}")

        def get() -> ModelVersionInfo:
            return self._info(self._mlflow().get_model_version(name, version))

        info: ModelVersionInfo = await self._run(get)
        return info

    async def production(self, name: str | None = None) -> ModelVersionInfo:
        """The version the ``production`` alias points at; 404 when there is none."""
        name = name or self.model_name

        def get() -> ModelVersionInfo:
            mv = self._mlflow().get_model_version_by_alias(name, ALIAS_PRODUCTION)
            return self._info(mv)

        info: ModelVersionInfo = await self._run(get)
        return info

    async def aliases(self, name: str | None = None) -> dict[str, str]:
        """Every alias of the registered model and the version it names (one call); 404 when
        the model is not registered."""
        name = name or self.model_name

        def get() -> dict[str, str]:
            model = self._mlflow().get_registered_model(name)
            return {str(alias): str(version) for alias, version in (model.aliases or {}).items()}

        found: dict[str, str] = await self._run(get)
        return found

    async def versions(self, name: str | None = None) -> list[ModelVersionInfo]:
        """Registered versions, newest first (at most :data:`MAX_LISTED_VERSIONS`)."""
        name = name or self.model_name

        def get() -> list[ModelVersionInfo]:
            client = self._mlflow()
            found = client.search_model_versions(
                f"name = '{name}'", max_results=MAX_LISTED_VERSIONS
            )
            # search_model_versions leaves each version's aliases empty; the registered model
            # holds them all (alias → version), so one more call fills every version in.
            by_version: dict[str, list[str]] = {}
            if found:
                model = client.get_registered_model(name)
                for alias, version in (model.aliases or {}).items():
                    by_version.setdefault(str(version), []).append(alias)
            ordered = sorted(found, key=lambda mv: int(mv.version), reverse=True)
            return [self._info(mv, by_version.get(str(mv.version), [])) for mv in ordered]

        infos: list[ModelVersionInfo] = await self._run(get)
        return infos

    async def promote(
        self, version: str, name: str | None = None
    ) -> tuple[ModelVersionInfo, str | None, bool]:
        """Point ``production`` at ``version``; return it, the previous version, and whether
        the model event was published."""
        from mlops_common import promotion

        name = name or self.model_name
        loop = asyncio.get_running_loop()

        async def send(channel: str, message: str) -> int:
            return await self._redis.publish(channel, message)

        def publish(channel: str, message: str) -> int:  # in the worker thread: send on the loop
            return asyncio.run_coroutine_threadsafe(send(channel, message), loop).result()

        def move() -> promotion.Promotion:
            return promotion.promote(self._mlflow(), version, name=name, publish=publish)

        moved: promotion.Promotion = await self._run(move)
        return await self.version(moved.version, name), moved.previous, moved.published
