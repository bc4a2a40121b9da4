"""Answered and failed requests per served version, counted in memory and added to Redis.

Each :class:`~mlops_inference.endpoint.ModelEndpoint` counts, per model version, the requests it
answered and those whose model run raised (not a client's bad input, not overload: those are
refused before the run) in an :class:`OutcomeCounts` — one dict increment per request.
:class:`OutcomeWriter` adds the counts to ``outcomes:<model>`` (``HINCRBY``, one pipeline per
interval, from a worker thread: :func:`mlops_common.rollout.outcome_field`). Drift's rollout
controller reads them to compare the error rate of a version on probation with the one it
replaced. Redis away: the counts are kept and added later (they are sums, so nothing is lost
while the process lives); the failure and the recovery are logged once each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from redis import Redis
from redis.exceptions import RedisError

from mlops_common.rollout import outcome_field, outcomes_key

log = logging.getLogger(__name__)

Counts = dict[tuple[str, bool], int]


class OutcomeCounts:
    """Requests answered and failed, per version, since the last :meth:`take`."""

    def __init__(self) -> None:
        self._counts: Counts = {}

    def add(self, version: str, failed: bool, count: int = 1) -> None:
        """Count ``count`` requests of ``version`` (a merged call holds several)."""
        key = (version, failed)
        self._counts[key] = self._counts.get(key, 0) + count

    def take(self) -> Counts:
        """The counts so far; counting starts again from zero."""
        counts, self._counts = self._counts, {}
        return counts

    def put_back(self, counts: Counts) -> None:
        """Return counts that could not be written (they are added again next time)."""
        for key, value in counts.items():
            self._counts[key] = self._counts.get(key, 0) + value


class OutcomeWriter:
    """Adds every endpoint's counts to its ``outcomes:<model>`` hash every ``interval_s``."""

    def __init__(
        self, redis: Redis, counts: Mapping[str, OutcomeCounts], interval_s: float = 1.0
    ) -> None:
        self._redis = redis
        self._counts = counts
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        """Start writing (call on the serving event loop)."""
        self._task = asyncio.create_task(self._run(), name="inference-outcomes")

    async def stop(self) -> None:
        """Write what is counted, then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.flush()

    async def flush(self) -> None:
        """Add the counts taken from every endpoint to Redis (kept for later when it fails)."""
        taken = {name: counts.take() for name, counts in self._counts.items()}
        taken = {name: counts for name, counts in taken.items() if counts}
        if not taken:
            return
        try:
            await asyncio.to_thread(self._write, taken)
        except (RedisError, OSError) as exc:
            for name, counts in taken.items():
                self._counts[name].put_back(counts)
            if not self._failing:
                log.warning("request outcomes not written; kept", extra={"error": str(exc)})
            self._failing = True
            return
        if self._failing:
            log.info("request outcomes written again")
        self._failing = False

    def _write(self, taken: Mapping[str, Counts]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for name, counts in taken.items():
            for (version, failed), value in counts.items():
                pipe.hincrby(outcomes_key(name), outcome_field(version, failed), value)
        pipe.execute()
