"""A model's safe rollout as the API shows and changes it: ``GET|POST /v1/models/{name}/rollout``.

Production and the candidate come from the registry's aliases (one MLflow call, in the
registry's worker thread): the candidate is the ``staging`` version when it differs from
``production``. Everything else lives in Redis (:class:`~mlops_gateway.rollout_store.RolloutStore`):
the settings inference and drift's rollout controller read, the decision log both write, and the
shadow records the live figures come from.

An admin action changes the settings and logs a :class:`~mlops_common.rollout.RolloutDecision`
(``by="admin"``) in one transaction; pinning a version that is not production promotes it first
through the registry's one promotion path.
"""

from __future__ import annotations

import time

from redis.asyncio.client import Pipeline

from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING
from mlops_common.rollout import (
    FIELD_PINNED,
    FIELD_PROBATION,
    FIELD_SHADOW,
    FIELD_SHADOW_SHARE,
    RolloutDecision,
)
from mlops_gateway.catalog import ModelCatalog
from mlops_gateway.errors import ConflictError, ModelNotServedError, NotFoundError
from mlops_gateway.registry import ModelRegistry
from mlops_gateway.rollout_schemas import (
    EndProbationAction,
    PinAction,
    ProbationOut,
    RolloutAction,
    RolloutStatus,
    ShadowAction,
    ShadowSettings,
    ShadowStatsOut,
    Skipped,
    UnpinAction,
    VersionRef,
)
from mlops_gateway.rollout_store import RolloutStore

ADMIN = "admin"


class Rollouts:
    """Reads a model's rollout and applies the admin's actions to it."""

    def __init__(self, store: RolloutStore, registry: ModelRegistry, catalog: ModelCatalog) -> None:
        self.store = store
        self._registry = registry
        self._catalog = catalog

    async def _versions(self, name: str) -> tuple[str | None, str | None]:
        """(production, candidate) of ``name``; 404 when it is neither registered nor served."""
        served = next((m for m in self._catalog.models if m.name == name), None)
        try:
            aliases = await self._registry.aliases(name)
        except NotFoundError:
            if served is None:
                raise ModelNotServedError(
                    f"model {name!r} is neither registered nor served"
                ) from None
            aliases = {}
        production = aliases.get(ALIAS_PRODUCTION) or (served.version if served else None)
        staging = aliases.get(ALIAS_STAGING)
        return production or None, staging if staging and staging != production else None

    async def status(self, name: str) -> RolloutStatus:
        """The rollout of ``name``: versions, settings, live figures and decisions."""
        production, candidate = await self._versions(name)
        snapshot = await self.store.read(name, production, candidate)
        state = snapshot.state
        probation = state.probation
        return RolloutStatus(
            model=name,
            production=VersionRef(version=production),
            candidate=VersionRef(version=candidate) if candidate else None,
            shadow=ShadowSettings(enabled=state.shadow, share=state.shadow_share),
            pinned=state.pinned,
            probation=(
                ProbationOut(**probation.model_dump(), active=probation.active())
                if probation is not None
                else None
            ),
            stats=(
                ShadowStatsOut.model_validate(snapshot.stats.as_dict())
                if snapshot.stats is not None
                else None
            ),
            decisions=snapshot.decisions,
            skipped=Skipped(**snapshot.skipped),
        )

    async def act(self, name: str, action: RolloutAction) -> RolloutStatus:
        """Apply ``action`` to ``name``'s rollout, log it, and answer the new state."""
        production, _ = await self._versions(name)
        if isinstance(action, ShadowAction):
            await self._shadow(name, action)
        elif isinstance(action, PinAction):
            await self._pin(name, action, production)
        elif isinstance(action, UnpinAction):
            await self._unpin(name, action)
        elif isinstance(action, EndProbationAction):
            await self._end_probation(name, action)
        return await self.status(name)

    async def _shadow(self, name: str, action: ShadowAction) -> None:
        share = "" if action.share is None else f", share {action.share:g}"
        decision = RolloutDecision(
            action="shadow",
            reason=_reason(action.reason, f"shadow {'on' if action.enabled else 'off'}{share}"),
            by=ADMIN,
        )

        def change(pipe: Pipeline, key: str) -> None:
            pipe.hset(key, FIELD_SHADOW, "on" if action.enabled else "off")
            if action.share is not None:
                pipe.hset(key, FIELD_SHADOW_SHARE, repr(action.share))

        await self.store.write(name, decision, change)

    async def _pin(self, name: str, action: PinAction, production: str | None) -> None:
        previous = None
        note = f"v{action.version} pinned"
        if action.version != production:
            # 404 for an unknown version: the promotion checks it before moving anything
            _, previous, _ = await self._registry.promote(action.version, name)
            note = f"v{action.version} promoted (was v{previous}) and pinned"
        decision = RolloutDecision(
            action="pinned",
            version=action.version,
            previous=previous,
            reason=_reason(action.reason, note),
            by=ADMIN,
        )

        def change(pipe: Pipeline, key: str) -> None:
            pipe.hset(key, FIELD_PINNED, action.version)

        await self.store.write(name, decision, change)

    async def _unpin(self, name: str, action: UnpinAction) -> None:
        pinned = (await self.store.state(name)).pinned
        note = f"v{pinned} unpinned" if pinned else "nothing was pinned"
        decision = RolloutDecision(
            action="unpinned", version=pinned, reason=_reason(action.reason, note), by=ADMIN
        )

        def change(pipe: Pipeline, key: str) -> None:
            pipe.hdel(key, FIELD_PINNED)

        await self.store.write(name, decision, change)

    async def _end_probation(self, name: str, action: EndProbationAction) -> None:
        probation = (await self.store.state(name)).probation
        if probation is None or not probation.active(time.time()):
            raise ConflictError(
                f"model {name!r} has no version on probation", code="no_active_probation"
            )
        decision = RolloutDecision(
            action="probation_ended",
            version=probation.version,
            previous=probation.previous,
            reason=_reason(action.reason, f"probation of v{probation.version} ended early"),
            by=ADMIN,
        )

        def change(pipe: Pipeline, key: str) -> None:
            pipe.hdel(key, FIELD_PROBATION)

        await self.store.write(name, decision, change)


def _reason(given: str, default: str) -> str:
    """The admin's reason when given, after what the action did."""
    return f"{default}: {given}" if given.strip() else default
