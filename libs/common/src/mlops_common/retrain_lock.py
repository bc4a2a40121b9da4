"""Single-flight of retraining: one job queued or running at a time, over one Redis key.

:data:`~mlops_common.jobs.RETRAIN_LOCK_KEY` holds the id of the job that is queued or running.

- A sender calls :func:`submit_retrain`: it claims the key for a new job id (``SET NX``) and only
  then queues the task (kwargs ``reason``, ``overrides``, ``model``) under that id; when the key
  is already held it queues nothing and returns the holder's id, so a second request while a job
  runs gets that job back. The key is one for every model: the worker trains one job at a time.
- The worker calls :func:`acquire` when a job starts (it may be a job sent without the helper),
  :func:`renew` while it runs (the TTL is short, so a killed worker frees the key within it) and
  :func:`release` when it ends. All three compare the holder with the job id atomically (Lua).

Sync redis-py clients only (senders in async code call this in a thread, as they call Celery).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any, Final

from redis import Redis

from mlops_common.jobs import RETRAIN_LOCK_KEY, RETRAIN_QUEUE, RETRAIN_TASK
from mlops_common.registry import MODEL_NAME

log = logging.getLogger(__name__)

#: How long a queued job holds the key before a worker starts it (then the worker's TTL rules).
QUEUED_TTL_S: Final = 3600.0
_FINISHED: Final = frozenset({"SUCCESS", "FAILURE", "REVOKED"})

# Claim for ARGV[1] when free or already ours; return "" when ours, else the holder.
_ACQUIRE: Final = """
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ''
end
return holder
"""
_RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
# Replace the holder ARGV[1] (a finished job) by ARGV[2].
_REPLACE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def holder(redis: Redis) -> str | None:
    """The id of the job that holds the key now, or None."""
    value = redis.get(RETRAIN_LOCK_KEY)
    return None if value is None else _text(value)


def acquire(redis: Redis, job_id: str, ttl_s: float) -> str | None:
    """Take the key for ``job_id`` (free, or already its own): None; else the holder's id."""
    other = _text(redis.eval(_ACQUIRE, 1, RETRAIN_LOCK_KEY, job_id, _ms(ttl_s)))
    return other or None


def renew(redis: Redis, job_id: str, ttl_s: float) -> bool:
    """Extend the key's TTL while ``job_id`` holds it; False when it does not any more."""
    return bool(redis.eval(_RENEW, 1, RETRAIN_LOCK_KEY, job_id, _ms(ttl_s)))


def release(redis: Redis, job_id: str) -> bool:
    """Free the key if ``job_id`` holds it; True when it did."""
    return bool(redis.eval(_RELEASE, 1, RETRAIN_LOCK_KEY, job_id))


def _finished(celery_app: Any, job_id: str) -> bool:
    """Whether the result backend says ``job_id`` ended (False when there is no backend)."""
    try:
        return str(celery_app.AsyncResult(job_id).state) in _FINISHED
    except (NotImplementedError, AttributeError):  # a send-only app has no result backend
        # (DisabledBackend raises NotImplementedError, or AttributeError on Celery versions
        # whose disabled backend lacks the state lookup)
        return False


def submit_retrain(
    celery_app: Any,
    redis: Redis,
    reason: str,
    overrides: Sequence[str] = (),
    *,
    model: str = MODEL_NAME,
    ttl_s: float = QUEUED_TTL_S,
    **send_options: Any,
) -> tuple[str, bool]:
    """Queue a retraining job of ``model`` unless one is queued or running; return
    ``(job_id, queued)``.

    The key is global, not per model: the worker trains one job at a time, so a request for any
    model while a job runs gets that job back (``queued`` False), whichever model it retrains.
    A holder that the result backend reports finished (its worker died before releasing) is
    replaced.

    Raises:
        Whatever ``send_task`` raises when the broker is down (the claim is released first).
    """
    job_id = str(uuid.uuid4())
    for _ in range(3):
        current = acquire(redis, job_id, ttl_s)
        if (
            current is not None
            and _finished(celery_app, current)
            and redis.eval(_REPLACE, 1, RETRAIN_LOCK_KEY, current, job_id, _ms(ttl_s))
        ):
            current = None
        if current is None:
            try:
                celery_app.send_task(
                    RETRAIN_TASK,
                    kwargs={"reason": reason, "overrides": list(overrides), "model": model},
                    task_id=job_id,
                    queue=RETRAIN_QUEUE,
                    **send_options,
                )
            except BaseException:
                release(redis, job_id)
                raise
            return job_id, True
        if holder(redis) == current:
            log.info("retrain already in flight", extra={"job_id": current, "reason": reason})
            return current, False
    raise RuntimeError("the retraining lock kept changing hands; try again")
