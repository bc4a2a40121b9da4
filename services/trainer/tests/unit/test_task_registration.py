"""The retrain task belongs to the worker's Celery app only.

Celery shares a task with every app finalized later in the same process unless told not to: a
client app (or a test's stand-in worker) would then run the real, torch-training task.
"""

from __future__ import annotations

from celery import Celery

from mlops_common.jobs import RETRAIN_TASK
from mlops_trainer import tasks
from mlops_trainer.worker import app as worker_app


def test_the_worker_app_has_the_task() -> None:
    assert worker_app.tasks[RETRAIN_TASK].name == tasks.retrain.name == RETRAIN_TASK


def test_another_app_in_the_same_process_does_not_get_it() -> None:
    other = Celery("another", set_as_current=False)
    other.finalize()
    assert RETRAIN_TASK not in other.tasks
