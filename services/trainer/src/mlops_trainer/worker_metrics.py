"""Prometheus metrics of the retraining worker (names in docs/contracts.md).

- ``retrain_jobs_total{outcome}`` — finished jobs: ``promoted``, ``rejected`` (registered as
  staging, production kept), ``refused`` (the model cannot be trained: nothing done) or
  ``failed``;
- ``retrain_job_duration_seconds`` — histogram of job durations;
- ``retrain_job_running`` — 1 while a job runs in this worker.

The process that runs the jobs serves them (``TRAINER_WORKER_METRICS_PORT``): the solo pool's
only process, or the prefork pool's child (the worker runs one job at a time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mlops_common.settings import LOOPBACK
from mlops_common.telemetry import start_metrics_server

log = logging.getLogger(__name__)

OUTCOMES: Final = ("promoted", "staged", "rejected", "refused", "failed")
DURATION_BUCKETS: Final = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)


class WorkerMetrics:
    """The worker's metrics in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.jobs = Counter(
            "retrain_jobs", "Finished retraining jobs by outcome.", ["outcome"],
            registry=self.registry,
        )  # fmt: skip
        for outcome in OUTCOMES:
            self.jobs.labels(outcome)
        self.duration = Histogram(
            "retrain_job_duration_seconds",
            "Duration of retraining jobs.",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.running = Gauge(
            "retrain_job_running", "1 while a retraining job runs.", registry=self.registry
        )
        self.serving_port: int | None = None

    @contextmanager
    def job(self) -> Iterator[None]:
        """Mark a job running for the duration of the block and time it."""
        started = time.perf_counter()
        self.running.set(1)
        try:
            yield
        finally:
            self.running.set(0)
            self.duration.observe(time.perf_counter() - started)

    def finished(self, outcome: str) -> None:
        """Count a finished job (one of :data:`OUTCOMES`)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}: use one of {OUTCOMES}")
        self.jobs.labels(outcome).inc()

    def serve(self, port: int, host: str = LOOPBACK) -> bool:
        """Serve ``/metrics`` on ``host:port`` (port 0: do not serve); False when it is taken."""
        if port == 0 or self.serving_port is not None:
            return False
        try:
            start_metrics_server(port, self.registry, addr=host)
        except OSError as exc:
            log.warning("worker metrics not served", extra={"port": port, "error": str(exc)})
            return False
        self.serving_port = port
        log.info("worker metrics served", extra={"port": port})
        return True
