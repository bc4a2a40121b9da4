"""The retraining worker's Celery app: ``celery -A mlops_trainer.worker worker``.

Broker and result backend are ``REDIS_URL``. Settings are read when Celery first configures the
app (the worker's start), not at import. The worker runs one job at a time (concurrency 1,
prefetch 1): with the default prefork pool the job runs in a child process, so the main process
keeps answering ``celery -A mlops_trainer.worker inspect ping`` (the health check) and enforces
the hard time limit by killing the child; ``--pool=solo`` runs jobs in the main process (tests).

Jobs are acknowledged late and rejected when their worker is lost, so a job whose worker dies is
delivered again: at once when a prefork child dies, or after the broker's visibility timeout
(``TRAINER_BROKER_VISIBILITY_TIMEOUT_S``, longer than the time limit) when the whole worker dies.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import setup_logging, worker_process_init

from mlops_common.jobs import RETRAIN_QUEUE
from mlops_common.logs import configure_logging
from mlops_trainer.settings import TrainerSettings
from mlops_trainer.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)

RESULT_EXPIRES_S = 7 * 24 * 3600


def celery_config(settings: TrainerSettings) -> dict[str, Any]:
    """The Celery configuration of the worker for ``settings``."""
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": RETRAIN_QUEUE,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_track_started": True,
        "task_soft_time_limit": settings.retrain_soft_time_limit_s,
        "task_time_limit": settings.retrain_time_limit_s,
        "worker_concurrency": 1,
        "worker_prefetch_multiplier": 1,
        # A new pool process imports torch, Lightning and MLflow before it says it is up
        # (_init_process): seconds, more on a busy machine. Celery's default 4 s kills it as
        # hung, again and again, and a job redelivered after a crash never runs.
        "worker_proc_alive_timeout": 120.0,
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": settings.visibility_timeout_s},
        "result_expires": RESULT_EXPIRES_S,
    }


class _WorkerState:
    """What one worker process keeps: its settings and its metrics (made on first use)."""

    settings: TrainerSettings | None = None
    metrics: WorkerMetrics | None = None


def worker_settings() -> TrainerSettings:
    """The settings of this process, read once."""
    if _WorkerState.settings is None:
        _WorkerState.settings = TrainerSettings()
    return _WorkerState.settings


def worker_metrics() -> WorkerMetrics:
    """The metrics of this process."""
    if _WorkerState.metrics is None:
        _WorkerState.metrics = WorkerMetrics()
    return _WorkerState.metrics


app = Celery("mlops_trainer", include=["mlops_trainer.tasks"])


def _configure(sender: Celery, **_: Any) -> None:
    sender.conf.update(celery_config(worker_settings()))


def _logging(**_: Any) -> None:
    configure_logging("trainer-worker", worker_settings().log_level)
    for name in ("onnxscript", "onnx_ir", "torch.onnx", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _init_process(**_: Any) -> None:
    """In the process that runs jobs: serve the metrics, load the ML stack before a job asks."""
    settings = worker_settings()
    worker_metrics().serve(settings.worker_metrics_port, settings.worker_metrics_host)
    import mlops_trainer.retrain  # noqa: F401  (torch, Lightning, MLflow: seconds to import)


app.on_configure.connect(_configure, weak=False)
setup_logging.connect(_logging, weak=False)
worker_process_init.connect(_init_process, weak=False)
