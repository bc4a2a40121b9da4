"""Celery names shared by the senders (gateway, drift) and the worker (trainer).

Senders queue by name (``celery_app.send_task(RETRAIN_TASK, kwargs=...)``) so they never import
the trainer. The broker and the result backend are the shared ``REDIS_URL``; :func:`celery_sender`
builds the senders' app (the ``jobs`` extra installs Celery).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from celery import Celery

RETRAIN_TASK: Final = "mlops_trainer.tasks.retrain"
RETRAIN_QUEUE: Final = "celery"
#: Key holding the id of the retraining job that is running now (single-flight).
RETRAIN_LOCK_KEY: Final = "jobs:retrain:running"

#: Keys of the progress a running job reports in its ``PROGRESS`` state meta.
PROGRESS_STATE: Final = "PROGRESS"
META_STAGE: Final = "stage"
META_EPOCH: Final = "epoch"
META_PROGRESS: Final = "progress"


def celery_sender(redis_url: str, *, timeout_s: float = 1.0, results: bool = True) -> Celery:
    """A Celery app that only sends tasks by name to the broker at ``redis_url`` (no worker).

    With ``results`` it reads the tasks' results from the same Redis (the worker stores them);
    without, it has no result backend, so a send does not subscribe to the task's result. Every
    Redis call fails within ``timeout_s`` when Redis is down: no reconnect loops, no retries
    beyond Celery's short publish retry.
    """
    from celery import Celery

    app = Celery(
        "mlops-sender",
        broker=redis_url,
        backend=redis_url if results else None,
        set_as_current=False,
    )
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry=False,
        broker_connection_max_retries=0,
        broker_transport_options={
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
            "max_retries": 0,
        },
        redis_socket_timeout=timeout_s,
        redis_socket_connect_timeout=timeout_s,
        redis_retry_on_timeout=False,
        result_backend_transport_options={"retry_policy": {"max_retries": 0}},
    )
    return app
