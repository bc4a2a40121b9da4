"""Celery names shared by the senders (gateway, drift) and the worker (trainer).

Senders queue by name (``celery_app.send_task(RETRAIN_TASK, kwargs=...)``) so they never import
the trainer. The broker and the result backend are the shared ``REDIS_URL``.
"""

from __future__ import annotations

from typing import Final

RETRAIN_TASK: Final = "mlops_trainer.tasks.retrain"
RETRAIN_QUEUE: Final = "celery"
#: Key holding the id of the retraining job that is running now (single-flight).
RETRAIN_LOCK_KEY: Final = "jobs:retrain:running"

#: Keys of the progress a running job reports in its ``PROGRESS`` state meta.
PROGRESS_STATE: Final = "PROGRESS"
META_STAGE: Final = "stage"
META_EPOCH: Final = "epoch"
META_PROGRESS: Final = "progress"
