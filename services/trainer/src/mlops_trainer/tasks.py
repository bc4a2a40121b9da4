"""The Celery task ``mlops_trainer.tasks.retrain(reason, overrides, model)``.

``model`` (default ``digits-classifier``) names the registered model to retrain. A model that
cannot be trained (imported, no version, no recipe for its task) is refused: the job succeeds
with ``{"skipped": true, "refused": <code>, "reason": <why>, ...}`` and changes nothing (see
:func:`mlops_trainer.retrain.refusal`). A malformed argument fails the job (``TypeError`` or
``ValueError``).

Single-flight over :mod:`mlops_common.retrain_lock`: a job that starts while another holds the
lock does not train and returns that job's id (senders that use ``submit_retrain`` never queue
it). The lock's TTL is short and renewed while the job runs, so a killed worker frees it soon.
Progress goes to the result backend as state ``PROGRESS`` with ``stage``, ``epoch`` and an
overall ``progress`` in 0..1.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Final

from celery import Task
from redis import Redis

from mlops_common import retrain_lock
from mlops_common.jobs import META_EPOCH, META_PROGRESS, META_STAGE, PROGRESS_STATE, RETRAIN_TASK
from mlops_common.registry import MODEL_NAME
from mlops_trainer.worker import app, worker_metrics, worker_settings

log = logging.getLogger(__name__)

#: Overall progress (0..1) at the start of each pipeline stage; training fills its own span.
STAGE_START = {
    "data": 0.0, "train": 0.05, "evaluate": 0.8, "export": 0.84, "parity": 0.88,
    "register": 0.92, "promote": 0.96, "done": 1.0,
}  # fmt: skip


def overall_progress(stage: str, progress: float) -> float:
    """Map a stage and its own progress to the job's progress in 0..1."""
    if stage == "train":
        return round(STAGE_START["train"] + progress * (STAGE_START["evaluate"] - 0.05), 4)
    return STAGE_START.get(stage, 0.0)


class LockHeartbeat:
    """Renews the single-flight lock from a daemon thread while the job runs."""

    def __init__(self, redis: Redis, job_id: str, ttl_s: float) -> None:
        self._redis, self._job_id, self._ttl_s = redis, job_id, ttl_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retrain-lock", daemon=True)

    def __enter__(self) -> LockHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        retrain_lock.release(self._redis, self._job_id)

    def _run(self) -> None:
        while not self._stop.wait(self._ttl_s / 3):
            try:
                if not retrain_lock.renew(self._redis, self._job_id, self._ttl_s):
                    log.warning("retrain lock lost", extra={"job_id": self._job_id})
            except Exception as exc:  # Redis away for a moment: try again next beat
                log.warning("retrain lock not renewed", extra={"error": str(exc)})


#: A registered model's name, as ``ModelSpec.name`` allows it.
_MODEL_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _check_model(model: Any) -> str:
    if not isinstance(model, str):
        raise TypeError(f"model must be a string, got {type(model).__name__}")
    if not _MODEL_NAME.match(model):
        raise ValueError(
            f"model {model[:120]!r} is not a model name: use 1-100 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return model


def _check_arguments(reason: Any, overrides: Any) -> list[str]:
    if not isinstance(reason, str):
        raise TypeError(f"reason must be a string, got {type(reason).__name__}")
    if overrides is None:
        return []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise TypeError("overrides must be a list of strings such as ['trainer.max_epochs=5']")
    return list(overrides)


def _outcome(result: dict[str, Any]) -> str:
    """The ``retrain_jobs_total`` outcome of a finished job's result."""
    if result.get("skipped"):
        return "refused"
    if result.get("awaiting_live"):
        return "staged"
    return "promoted" if result.get("promoted") else "rejected"


@app.task(  # type: ignore[untyped-decorator]
    bind=True,
    name=RETRAIN_TASK,
    # Celery shares a task with every app finalized later in the process by default; this one
    # belongs to the worker's app only (a test's stand-in worker in the same process must not
    # pick up the real, torch-training task).
    shared=False,
    acks_late=True,
    reject_on_worker_lost=True,
    track_started=True,
)
def retrain(
    self: Task,
    reason: str = "manual",
    overrides: list[str] | None = None,
    model: str = MODEL_NAME,
) -> Any:
    """Retrain ``model`` on its data plus its feedback, register, promote when better (see the
    module doc)."""
    from mlops_trainer.retrain import run_retrain  # torch & co. load in the process that trains

    job_overrides = _check_arguments(reason, overrides)
    model = _check_model(model)
    settings = worker_settings()
    job_id = str(self.request.id)
    redis = Redis.from_url(settings.redis_url, socket_timeout=30, socket_connect_timeout=5)
    try:
        running = retrain_lock.acquire(redis, job_id, settings.retrain_lock_ttl_s)
        if running is not None:
            log.info("another retrain is running", extra={"job_id": job_id, "running": running})
            return {
                "skipped": True,
                "running_job_id": running,
                "reason": f"not run: retraining job {running} was already running",
                "trigger": reason,
                "model": model,
            }

        def report(stage: str, epoch: int | None, progress: float) -> None:
            meta = {
                META_STAGE: stage,
                META_EPOCH: epoch,
                META_PROGRESS: overall_progress(stage, progress),
            }
            self.update_state(state=PROGRESS_STATE, meta=meta)

        metrics = worker_metrics()
        with LockHeartbeat(redis, job_id, settings.retrain_lock_ttl_s), metrics.job():
            try:
                result = run_retrain(
                    reason,
                    job_overrides,
                    job_id=job_id,
                    settings=settings,
                    redis=redis,
                    on_progress=report,
                    model=model,
                )
            except BaseException:
                metrics.finished("failed")
                raise
        metrics.finished(_outcome(result))
        return result
    finally:
        redis.close()
