"""A model's rollout state, decision log and shadow records in Redis, read and written with the
gateway's asyncio client (the keys and encodings are :mod:`mlops_common.rollout` and
:mod:`mlops_common.shadow`).

Reading takes one pipelined round trip (``HGETALL`` of the settings, ``LRANGE`` of the log,
``XREVRANGE`` of the newest shadow entries), more ``XREVRANGE`` pages while those entries (each
a candidate batch of records) hold fewer than the window's records, and one ``HMGET feedback``
of the prediction ids of the records of the current pair; decoding and the statistics run in a
worker thread, so a window of thousands of records never holds up the event loop. An entry
that cannot be decoded is left out and counted. Each write changes the settings and appends its
decision to the log (``LPUSH`` and ``LTRIM``) in one ``MULTI``/``EXEC`` transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from mlops_common.live_stats import ShadowStats, shadow_ids, shadow_stats
from mlops_common.redis_keys import FEEDBACK_HASH
from mlops_common.rollout import (
    ROLLOUT_LOG_LENGTH,
    RolloutDecision,
    RolloutState,
    rollout_key,
    rollout_log_key,
)
from mlops_common.shadow import (
    ShadowDecodeError,
    ShadowRecord,
    decode_batch,
    next_page,
    shadow_stream,
)
from mlops_gateway.errors import DependencyUnavailableError

#: Shadow records read for the statistics (the newest ones).
SHADOW_WINDOW: Final = 5000
#: Decisions shown (the newest ones).
DECISIONS_SHOWN: Final = 50

_REDIS_ERRORS = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class RolloutSnapshot:
    """What Redis holds for one model: its settings, the newest decisions, the figures of the
    production/candidate pair (None without a candidate) and how many entries were skipped."""

    state: RolloutState
    decisions: list[RolloutDecision]
    stats: ShadowStats | None
    skipped: dict[str, int] = field(default_factory=dict)


def _decisions(raw: Sequence[bytes]) -> tuple[list[RolloutDecision], int]:
    found: list[RolloutDecision] = []
    for entry in raw:
        try:
            found.append(RolloutDecision.model_validate_json(entry))
        except ValidationError:
            continue
    return found, len(raw) - len(found)


def _records(
    entries: Sequence[tuple[Any, Mapping[bytes | str, bytes | str]]],
) -> tuple[list[ShadowRecord], int]:
    """The records of ``entries`` (newest first) and how many entries did not decode."""
    records: list[ShadowRecord] = []
    bad = 0
    for _, fields in entries:
        try:
            records.extend(reversed(decode_batch(fields)))  # a batch is oldest first
        except ShadowDecodeError:
            bad += 1
    return records, bad


def _of_pair(
    records: Sequence[ShadowRecord], production: str, candidate: str
) -> list[ShadowRecord]:
    """The records of this pair (others are no error: an older pair's)."""
    return [
        r
        for r in records
        if r.production_version == production and r.candidate_version == candidate
    ]


def _truths(ids: Sequence[str], values: Sequence[bytes | str | None]) -> tuple[dict[str, int], int]:
    truths: dict[str, int] = {}
    bad = 0
    for pid, value in zip(ids, values, strict=True):
        if value is None:
            continue
        try:
            truths[pid] = int(value)
        except ValueError:
            bad += 1
    return truths, bad


class RolloutStore:
    """Reads a model's rollout from Redis and writes the admin's changes with their decision."""

    def __init__(
        self, redis: Redis, *, window: int = SHADOW_WINDOW, shown: int = DECISIONS_SHOWN
    ) -> None:
        self._redis = redis
        self.window = window
        self.shown = shown

    async def state(self, model: str) -> RolloutState:
        """The settings of ``rollout:<model>``."""
        try:
            fields = await self._redis.hgetall(rollout_key(model))
        except _REDIS_ERRORS as exc:
            raise DependencyUnavailableError("redis", f"cannot read the rollout: {exc}") from exc
        return RolloutState.from_fields(fields)

    async def read(
        self, model: str, production: str | None, candidate: str | None
    ) -> RolloutSnapshot:
        """Settings, decisions and, when there is a candidate, the pair's live figures."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(rollout_key(model))
                pipe.lrange(rollout_log_key(model), 0, self.shown - 1)
                if candidate is not None:
                    pipe.xrevrange(shadow_stream(model), count=next_page(self.window, 0, 0))
                replies = await pipe.execute()
        except _REDIS_ERRORS as exc:
            raise DependencyUnavailableError("redis", f"cannot read the rollout: {exc}") from exc
        decisions, bad_decisions = _decisions(replies[1])
        skipped = {"decisions": bad_decisions, "shadow": 0, "feedback": 0}
        stats = None
        if candidate is not None:
            prod = production or ""
            records, skipped["shadow"] = await self._shadow(model, replies[2])
            records = _of_pair(records, prod, candidate)
            truths, skipped["feedback"] = await self._feedback(records)
            stats = await asyncio.to_thread(
                shadow_stats, records, truths, production=prod, candidate=candidate
            )
        return RolloutSnapshot(RolloutState.from_fields(replies[0]), decisions, stats, skipped)

    async def _shadow(self, model: str, first: Sequence[Any]) -> tuple[list[ShadowRecord], int]:
        """The newest ``window`` records (any pair) from the first page of entries and as many
        more pages as they take; how many entries did not decode."""
        stream, page = shadow_stream(model), next_page(self.window, 0, 0)
        entries: Sequence[Any] = first or []
        records: list[ShadowRecord] = []
        bad = read = 0
        while True:
            found, wrong = await asyncio.to_thread(_records, entries)
            records += found
            bad += wrong
            read += len(entries)
            if len(records) >= self.window or len(entries) < page:
                return records[: self.window], bad
            page = next_page(self.window - len(records), read, len(records))
            last = entries[-1][0]
            top = "(" + (last.decode() if isinstance(last, bytes) else last)
            try:
                entries = await self._redis.xrevrange(stream, max=top, count=page) or []
            except _REDIS_ERRORS as exc:
                raise DependencyUnavailableError("redis", f"cannot read shadows: {exc}") from exc

    async def _feedback(self, records: Sequence[ShadowRecord]) -> tuple[dict[str, int], int]:
        """The feedback labels of the records' prediction ids, in one ``HMGET``."""
        ids = shadow_ids(records)
        if not ids:
            return {}, 0
        try:
            values = await self._redis.hmget(FEEDBACK_HASH, ids)
        except _REDIS_ERRORS as exc:
            raise DependencyUnavailableError("redis", f"cannot read feedback: {exc}") from exc
        return _truths(ids, values)

    async def write(
        self, model: str, decision: RolloutDecision, change: Callable[[Pipeline, str], object]
    ) -> None:
        """Apply ``change`` (given the pipeline and the settings key) and log ``decision``,
        in one transaction."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                change(pipe, rollout_key(model))
                pipe.lpush(rollout_log_key(model), decision.model_dump_json())
                pipe.ltrim(rollout_log_key(model), 0, ROLLOUT_LOG_LENGTH - 1)
                await pipe.execute()
        except _REDIS_ERRORS as exc:
            raise DependencyUnavailableError("redis", f"cannot write the rollout: {exc}") from exc
