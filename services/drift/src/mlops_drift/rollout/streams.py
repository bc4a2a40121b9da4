"""What the rollout controller reads and writes in Redis (asyncio client).

Reads: a model's traffic entries after or before a moment (stream ids are milliseconds, so a
time range is an id range), its latest shadow records (an entry holds a candidate batch of
them, so entries are read page by page until enough records), the feedback labels of
prediction ids.
Writes: the ``rollout:<model>`` fields and the decision log (:mod:`mlops_common.rollout`).
Entries that do not decode are skipped and counted by the caller's ``skipped`` list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from mlops_common.redis_keys import FEEDBACK_HASH, TrafficDecodeError, TrafficEntry, traffic_stream
from mlops_common.rollout import (
    ROLLOUT_LOG_LENGTH,
    RolloutDecision,
    RolloutState,
    outcomes_key,
    parse_outcomes,
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

_HMGET_CHUNK = 2000


async def read_state(redis: Redis, model: str) -> RolloutState:
    """The model's rollout settings."""
    return RolloutState.from_fields(await redis.hgetall(rollout_key(model)))


async def set_fields(redis: Redis, model: str, fields: dict[str, str]) -> None:
    """Set some of the model's rollout fields."""
    await redis.hset(rollout_key(model), mapping=fields)  # type: ignore[arg-type]


async def delete_field(redis: Redis, model: str, field: str) -> None:
    """Remove one of the model's rollout fields."""
    await redis.hdel(rollout_key(model), field)


async def log_decision(redis: Redis, model: str, decision: RolloutDecision) -> None:
    """Prepend ``decision`` to the model's log, trimmed to its length, in one round trip."""
    key = rollout_log_key(model)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(key, decision.model_dump_json())
        pipe.ltrim(key, 0, ROLLOUT_LOG_LENGTH - 1)
        await pipe.execute()


async def outcomes(redis: Redis, model: str) -> dict[str, tuple[int, int]]:
    """Requests answered and failed per version, as inference counted them."""
    return parse_outcomes(await redis.hgetall(outcomes_key(model)))


async def decisions(redis: Redis, model: str, count: int = 50) -> list[RolloutDecision]:
    """The newest ``count`` decisions (malformed entries skipped)."""
    found = []
    for raw in await redis.lrange(rollout_log_key(model), 0, count - 1):
        try:
            found.append(RolloutDecision.model_validate_json(raw))
        except ValueError:
            continue
    return found


def _entries(rows: Any, skipped: list[int]) -> list[TrafficEntry]:
    entries = []
    for _, fields in rows or ():
        try:
            entries.append(TrafficEntry.decode(fields))
        except TrafficDecodeError:
            skipped.append(1)
    return entries


def _ms(timestamp: float) -> int:
    return int(timestamp * 1000)


async def traffic_since(
    redis: Redis, model: str, since: float, count: int, skipped: list[int]
) -> list[TrafficEntry]:
    """The newest ``count`` traffic entries logged from ``since`` (unix s) on, newest first."""
    rows = await redis.xrevrange(traffic_stream(model), max="+", min=str(_ms(since)), count=count)
    return _entries(rows, skipped)


async def traffic_before(
    redis: Redis, model: str, before: float, count: int, skipped: list[int]
) -> list[TrafficEntry]:
    """Up to ``count`` traffic entries logged before ``before`` (unix s), newest first."""
    rows = await redis.xrevrange(traffic_stream(model), max=f"({_ms(before)}", min="-", count=count)
    return _entries(rows, skipped)


async def latest_shadow(
    redis: Redis, model: str, count: int, skipped: list[int]
) -> list[ShadowRecord]:
    """The newest ``count`` shadow records of the model, newest first (entries are read newest
    first, a page at a time sized by :func:`~mlops_common.shadow.next_page`)."""
    records: list[ShadowRecord] = []
    entries, top = 0, "+"
    while len(records) < count:
        page = next_page(count - len(records), entries, len(records))
        rows: Any = await redis.xrevrange(shadow_stream(model), max=top, count=page) or []
        for _, fields in rows:
            try:
                records.extend(reversed(decode_batch(fields)))  # a batch is oldest first
            except ShadowDecodeError:
                skipped.append(1)
        entries += len(rows)
        if len(rows) < page:
            break
        last = rows[-1][0]
        top = "(" + (last.decode() if isinstance(last, bytes) else last)
    return records[:count]


async def truths(redis: Redis, ids: Sequence[str]) -> dict[str, int]:
    """The feedback labels known for ``ids`` (unlabelled ids are absent)."""
    found: dict[str, int] = {}
    for start in range(0, len(ids), _HMGET_CHUNK):
        chunk = list(ids[start : start + _HMGET_CHUNK])
        for pid, value in zip(chunk, await redis.hmget(FEEDBACK_HASH, chunk), strict=True):
            if value is not None:
                try:
                    found[pid] = int(value)
                except ValueError:
                    continue
    return found
