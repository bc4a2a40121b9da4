"""Retraining jobs: queued on Celery by task name, read back from the result backend.

The gateway never imports the trainer: it sends :data:`mlops_common.jobs.RETRAIN_TASK` by name.
Celery's client calls block, so they run in a worker thread. A job id the gateway queued is
remembered in Redis (``jobs:<id>``) so that an unknown id answers 404 instead of Celery's
eternal ``PENDING``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from mlops_common.jobs import (
    META_EPOCH,
    META_PROGRESS,
    META_STAGE,
    PROGRESS_STATE,
)
from mlops_common.retrain_lock import submit_retrain
from mlops_gateway.errors import DependencyUnavailableError, NotFoundError

JOB_KEY_PREFIX = "jobs:"
JOB_KEY_TTL_S = 7 * 24 * 3600
#: What Celery raises when Redis is down (its result backend ends retries with RuntimeError).
_BROKER_ERRORS = (OperationalError, RedisError, OSError, RuntimeError)


@dataclass(frozen=True, slots=True)
class JobStatus:
    """What the result backend knows of one job."""

    job_id: str
    state: str
    progress: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None


class JobQueue:
    """Queues retraining and reads job states."""

    def __init__(self, celery: Celery) -> None:
        self._celery = celery

    async def submit_retrain(self, reason: str, overrides: list[str], model: str) -> str:
        """Queue a job retraining ``model`` and return its id; while one is in flight, return
        that one's.

        Single-flight through :mod:`mlops_common.retrain_lock` (the worker honours the same key).
        """
        return await asyncio.to_thread(self._submit, reason, overrides, model)

    def _submit(self, reason: str, overrides: list[str], model: str) -> str:
        try:
            client = self._celery.backend.client
            job_id, queued = submit_retrain(
                self._celery, client, reason, overrides, model=model, retry=False
            )
            if queued:
                client.set(JOB_KEY_PREFIX + job_id, reason, ex=JOB_KEY_TTL_S)
        except _BROKER_ERRORS as exc:
            raise DependencyUnavailableError("broker", f"cannot queue the job: {exc}") from exc
        return job_id

    async def status(self, job_id: str) -> JobStatus:
        """State, progress, result or error of ``job_id``; 404 when unknown."""
        return await asyncio.to_thread(self._status, job_id)

    def _status(self, job_id: str) -> JobStatus:
        try:
            # One read of the backend: state and info from two reads can straddle the end of the
            # task (a PROGRESS state beside the final result).
            meta = self._celery.backend.get_task_meta(job_id)
            state = str(meta.get("status", "PENDING"))
            info = meta.get("result")
            known = state != "PENDING" or bool(
                self._celery.backend.client.exists(JOB_KEY_PREFIX + job_id)
            )
        except _BROKER_ERRORS as exc:
            raise DependencyUnavailableError("broker", f"cannot read the job: {exc}") from exc
        if not known:
            raise NotFoundError(f"no job with id {job_id!r}")
        return _to_status(job_id, state, info)


def _to_status(job_id: str, state: str, info: Any) -> JobStatus:
    progress = result = error = None
    if state in (PROGRESS_STATE, "STARTED") and isinstance(info, dict):
        progress = {k: info[k] for k in (META_STAGE, META_EPOCH, META_PROGRESS) if k in info}
    elif state == "SUCCESS":
        result = info if isinstance(info, dict) else {"value": info}
    elif state in ("FAILURE", "REVOKED", "RETRY") and info is not None:
        error = f"{type(info).__name__}: {info}" if isinstance(info, BaseException) else str(info)
    return JobStatus(job_id=job_id, state=state, progress=progress, result=result, error=error)
