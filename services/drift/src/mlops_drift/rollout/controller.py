"""One model's rollout controller: probation with automatic rollback, and the live-evidence gate.

Every ``interval_s`` (:func:`run_rollout`) each model's :class:`RolloutController` looks at:

1. **Production.** A ``production`` version other than the one last seen (``rollout:<model>``
   field ``production``) was moved there by a retrain, a person or the gate: it goes on
   probation for ``probation_s`` against the version it replaced, unless a person pinned it.
2. **Probation.** The new version's live figures (its traffic since the move: accuracy on
   labelled rows, estimated accuracy from calibrated confidence, p99 latency; its error rate
   from inference's counts since the move) against the replaced version's last
   ``baseline_rows`` before the move (its error rate: all its requests until then). A regression
   (:func:`mlops_drift.rollout.probation.regressions`) moves ``production`` back through
   :func:`mlops_common.promotion.undo`, which announces it on ``model-events``; the reason goes
   to the decision log and ``rollout_rollbacks_total`` counts it (an alert rule fires on it).
   A window that ends clean is logged as passed.
3. **Candidate.** A ``staging`` version other than production, shadowed by inference: once its
   shadow records carry enough labelled rows, :func:`mlops_common.promotion.decide` promotes or
   rejects it on the offline and the live figures; the decision and why go to the log. Each
   candidate is decided once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from redis.asyncio import Redis

from mlops_common.calibration import expected_accuracy
from mlops_common.live_stats import shadow_ids, shadow_stats, version_stats
from mlops_common.promotion import LiveEvidence, decide
from mlops_common.redis_keys import TrafficEntry
from mlops_common.rollout import (
    FIELD_PROBATION,
    FIELD_PRODUCTION,
    Probation,
    RolloutDecision,
    RolloutState,
)
from mlops_drift.rollout import streams
from mlops_drift.rollout.metrics import RolloutMetrics
from mlops_drift.rollout.probation import VersionFigures, regressions
from mlops_drift.rollout.registry import RolloutRegistry
from mlops_drift.rollout.settings import RolloutSettings

log = logging.getLogger(__name__)

#: Decisions that settle a candidate for good (a rolled-back version is not promoted again).
_FINAL = ("promoted", "rejected", "rolled_back")


class RolloutController:
    """Watches one model's production and staging versions (see the module doc)."""

    def __init__(
        self,
        name: str,
        redis: Redis,
        registry: RolloutRegistry,
        settings: RolloutSettings,
        metrics: RolloutMetrics,
    ) -> None:
        self.name = name
        self._redis = redis
        self._registry = registry
        self._settings = settings
        self._metrics = metrics
        self._judged: set[str] = set()
        self._baseline: tuple[tuple[str, float], list[TrafficEntry]] | None = None

    async def tick(self) -> None:
        """One look at the model (see the module doc)."""
        production, staging = await asyncio.to_thread(self._registry.aliases, self.name)
        if production is None:
            return
        state = await self._follow(await streams.read_state(self._redis, self.name), production)
        probation = state.probation
        self._metrics.probation.labels(model=self.name).set(1 if probation else 0)
        if probation is not None and probation.version == production:
            await self._watch(state, probation)
        if (
            staging is not None
            and staging != production
            and self._settings.auto_promote
            and state.pinned != production
        ):
            await self._judge(production, staging)

    async def _decide(self, decision: RolloutDecision) -> None:
        await streams.log_decision(self._redis, self.name, decision)
        self._metrics.decisions.labels(model=self.name, action=decision.action).inc()
        log.info(
            "rollout decision",
            extra={
                "model": self.name,
                "action": decision.action,
                "version": decision.version,
                "reason": decision.reason,
            },
        )

    # -- production and probation ------------------------------------------------------------
    async def _follow(self, state: RolloutState, production: str) -> RolloutState:
        """Start probation when production moved since the last look."""
        if state.production == production:
            return state
        fields = {FIELD_PRODUCTION: production}
        if state.production is None or state.pinned == production:
            await streams.set_fields(self._redis, self.name, fields)
            return state.model_copy(update={"production": production})
        now = time.time()
        counts = await streams.outcomes(self._redis, self.name)
        probation = Probation(
            version=production,
            previous=state.production,
            started=now,
            until=now + self._settings.probation_s,
            start_outcomes=counts.get(production, (0, 0)),
            previous_outcomes=counts.get(state.production, (0, 0)),
        )
        fields[FIELD_PROBATION] = probation.model_dump_json()
        await streams.set_fields(self._redis, self.name, fields)
        await self._decide(
            RolloutDecision(
                action="probation_started",
                version=production,
                previous=state.production,
                reason=f"production moved from v{state.production} to v{production}; watched "
                f"for {self._settings.probation_s:g} s",
            )
        )
        return state.model_copy(update={"production": production, "probation": probation})

    async def _baseline_entries(
        self, probation: Probation, skipped: list[int]
    ) -> list[TrafficEntry]:
        """The replaced version's last rows before the move (read once per probation)."""
        key = (probation.version, probation.started)
        if self._baseline is None or self._baseline[0] != key:
            before = await streams.traffic_before(
                self._redis, self.name, probation.started, self._settings.baseline_rows, skipped
            )
            self._baseline = (key, [e for e in before if e.model_version == probation.previous])
        return self._baseline[1]

    async def _figures(
        self, version: str, entries: list[TrafficEntry], truths: dict[str, int]
    ) -> VersionFigures:
        confidences = [e.confidence for e in entries]
        stats = version_stats(
            version,
            [e.label for e in entries],
            confidences,
            [truths.get(e.id) for e in entries],
            [e.latency_ms for e in entries],
        )
        estimate = None
        if confidences:
            calibration = await asyncio.to_thread(self._registry.calibration, self.name, version)
            estimate = expected_accuracy(confidences, calibration)
        return VersionFigures(stats, estimate)

    async def _watch(self, state: RolloutState, probation: Probation) -> None:
        """Compare the version on probation with the one it replaced; roll back on regression."""
        skipped: list[int] = []
        since = await streams.traffic_since(
            self._redis, self.name, probation.started, self._settings.baseline_rows, skipped
        )
        new = [e for e in since if e.model_version == probation.version]
        old = await self._baseline_entries(probation, skipped) if probation.previous else []
        self._metrics.skipped.labels(model=self.name).inc(len(skipped))
        truths = await streams.truths(self._redis, [e.id for e in new + old])
        ok, failed = (await streams.outcomes(self._redis, self.name)).get(probation.version, (0, 0))
        start_ok, start_failed = probation.start_outcomes
        mine = replace(
            await self._figures(probation.version, new, truths),
            requests=max(0, ok - start_ok) + max(0, failed - start_failed),
            errors=max(0, failed - start_failed),
        )
        before_ok, before_failed = probation.previous_outcomes
        theirs = replace(
            await self._figures(probation.previous or "", old, truths),
            requests=before_ok + before_failed,
            errors=before_failed,
        )
        for role, figures in (("probation", mine), ("replaced", theirs)):
            if figures.stats.accuracy is not None:
                self._metrics.accuracy.labels(model=self.name, role=role).set(
                    figures.stats.accuracy
                )
            if figures.estimated_accuracy is not None:
                self._metrics.estimated.labels(model=self.name, role=role).set(
                    figures.estimated_accuracy
                )
        found = regressions(mine, theirs, self._settings.limits())
        if found and probation.previous and state.pinned != probation.version:
            if self._settings.rollback:
                await self._roll_back(probation, "; ".join(found))
                return
            log.warning("probation regression (rollback off)", extra={"reasons": found})
        if not probation.active():
            await streams.delete_field(self._redis, self.name, FIELD_PROBATION)
            await self._decide(
                RolloutDecision(
                    action="probation_passed",
                    version=probation.version,
                    previous=probation.previous,
                    reason=f"no regression over {self._settings.probation_s:g} s "
                    f"({mine.stats.rows} rows, {mine.stats.labelled} labelled)",
                )
            )

    async def _roll_back(self, probation: Probation, reason: str) -> None:
        assert probation.previous is not None  # nosec B101: a probation we roll back always has a previous; narrows the type for mypy
        await asyncio.to_thread(self._registry.undo, self.name, probation.previous)
        # Production is back on the version that served well: no probation for it.
        await streams.set_fields(self._redis, self.name, {FIELD_PRODUCTION: probation.previous})
        await streams.delete_field(self._redis, self.name, FIELD_PROBATION)
        self._metrics.rollbacks.labels(model=self.name).inc()
        self._metrics.probation.labels(model=self.name).set(0)
        log.warning(
            "production rolled back",
            extra={"model": self.name, "version": probation.version, "reason": reason},
        )
        await self._decide(
            RolloutDecision(
                action="rolled_back",
                version=probation.version,
                previous=probation.previous,
                reason=f"v{probation.version} rolled back to v{probation.previous}: {reason}",
            )
        )

    # -- staged candidates ---------------------------------------------------------------------
    async def _judged_before(self, candidate: str) -> bool:
        if candidate in self._judged:
            return True
        for decision in await streams.decisions(self._redis, self.name):
            if decision.version == candidate and decision.action in _FINAL:
                self._judged.add(candidate)
                return True
        return False

    async def _judge(self, production: str, candidate: str) -> None:
        """Promote or reject a shadowed candidate once its live evidence suffices."""
        if await self._judged_before(candidate):
            return
        skipped: list[int] = []
        records = await streams.latest_shadow(
            self._redis, self.name, self._settings.shadow_rows, skipped
        )
        self._metrics.skipped.labels(model=self.name).inc(len(skipped))
        pair = [
            r
            for r in records
            if r.production_version == production and r.candidate_version == candidate
        ]
        truths = await streams.truths(self._redis, shadow_ids(pair))
        stats = shadow_stats(pair, truths, production=production, candidate=candidate)
        if stats.agreement is not None:
            self._metrics.agreement.labels(model=self.name).set(stats.agreement)
        for role, figures in (("production", stats.production), ("candidate", stats.candidate)):
            if figures.accuracy is not None:
                self._metrics.accuracy.labels(model=self.name, role=role).set(figures.accuracy)
        live = LiveEvidence(
            shadowed=stats.rows,
            labelled=stats.candidate.labelled,
            candidate_accuracy=stats.candidate.accuracy,
            production_accuracy=stats.production.accuracy,
        )
        offline = await asyncio.to_thread(self._registry.offline, self.name, candidate, production)
        verdict = decide(*offline, self._settings.gate(), live)
        if verdict.waiting:
            return
        self._judged.add(candidate)
        if verdict.promote:
            await asyncio.to_thread(self._registry.promote, self.name, candidate)
        await self._decide(
            RolloutDecision(
                action="promoted" if verdict.promote else "rejected",
                version=candidate,
                previous=production,
                reason=verdict.reason,
            )
        )


async def run_rollout(controllers: list[RolloutController], interval_s: float) -> None:
    """Look at every model every ``interval_s``; one model's failure never stops the others."""
    while True:
        started = time.monotonic()
        for controller in controllers:
            try:
                await controller.tick()
            except Exception:
                log.exception("rollout look failed", extra={"model": controller.name})
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))
