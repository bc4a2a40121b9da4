"""The app factory: ``create_app(settings)`` builds the FastAPI app; the lifespan starts the loops.

Composition root: Redis client, check worker and retrain trigger (shared), and per watched model
a window, reference source, monitor and consumer, are built here and passed through
constructors; nothing is global.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from mlops_common.jobs import celery_sender
from mlops_common.model_events import listen_model_events
from mlops_common.registry import ALIAS_PRODUCTION
from mlops_drift import __version__
from mlops_drift.api import install_error_handlers, router
from mlops_drift.catalog import Monitors
from mlops_drift.consumer import TrafficConsumer
from mlops_drift.detector import warm_up
from mlops_drift.loops import refresh_reference, run_periodic_checks, run_reference_poll
from mlops_drift.metrics import DriftMetrics
from mlops_drift.monitor import DriftMonitor
from mlops_drift.reference import RegistryReferenceSource
from mlops_drift.rollout.controller import RolloutController, run_rollout
from mlops_drift.rollout.metrics import RolloutMetrics
from mlops_drift.rollout.registry import RolloutRegistry
from mlops_drift.settings import DriftSettings
from mlops_drift.trigger import RetrainTrigger
from mlops_drift.window import SlidingWindow
from mlops_drift.worker import CheckWorker

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 3.0  # per shutdown step


def _consumer(redis: Redis, monitor: DriftMonitor, settings: DriftSettings) -> TrafficConsumer:
    """The reader of ``monitor``'s model's traffic stream, into its window."""
    references = monitor.references
    return TrafficConsumer(
        redis,
        monitor.window,
        monitor.metrics,
        model=monitor.name,
        consumer_name=settings.consumer_name,
        count=settings.read_count,
        block_ms=settings.read_block_ms,
        start_from=settings.start_from,
        accept=references.accept,
        width=lambda: references.width,
    )


def _tasks(
    monitors: Monitors, consumers: list[TrafficConsumer], settings: DriftSettings
) -> list[asyncio.Task[None]]:
    tasks = [
        asyncio.create_task(consumer.run(), name=f"drift-consumer-{consumer.model}")
        for consumer in consumers
    ]
    for monitor in monitors:

        async def reload(_event: object, monitor: DriftMonitor = monitor) -> None:
            await refresh_reference(monitor)

        tasks.append(
            asyncio.create_task(
                listen_model_events(
                    settings.redis_url,
                    monitor.name,
                    ALIAS_PRODUCTION,
                    reload,
                    first_delay_s=0.1,
                    max_delay_s=5.0,
                ),
                name=f"drift-model-events-{monitor.name}",
            )
        )
    tasks += [
        asyncio.create_task(
            run_reference_poll(monitors, settings.reference_poll_s), name="drift-reference-poll"
        ),
        asyncio.create_task(
            run_periodic_checks(monitors, settings.check_interval_s, settings.min_new_rows),
            name="drift-checks",
        ),
    ]
    return tasks


def _rollout_task(
    settings: DriftSettings, metrics: DriftMetrics, redis: Redis, announcer: SyncRedis
) -> asyncio.Task[None]:
    """The rollout controller of every watched model, in one loop."""
    registry = RolloutRegistry(settings.tracking_uri, announcer.publish)
    rollout_metrics = RolloutMetrics(metrics.registry)
    controllers = [
        RolloutController(name, redis, registry, settings.rollout, rollout_metrics)
        for name in settings.monitored_models()
    ]
    return asyncio.create_task(
        run_rollout(controllers, settings.rollout.interval_s), name="drift-rollout"
    )


@asynccontextmanager
async def _running(settings: DriftSettings, metrics: DriftMetrics) -> AsyncIterator[Monitors]:
    redis = Redis.from_url(settings.redis_url, socket_timeout=30, socket_connect_timeout=5)
    trigger = (
        RetrainTrigger(
            SyncRedis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5),
            celery_sender(settings.redis_url, timeout_s=2.0),
            settings.retrain_cooldown_s,
        )
        if settings.retrain_enabled
        else None
    )
    worker = CheckWorker(settings.check_executor, initializer=warm_up)
    worker.start()
    monitors = Monitors(
        [
            DriftMonitor(
                window=SlidingWindow(settings.window_size, settings.window_max_age_s),
                source=RegistryReferenceSource(settings.tracking_uri, name),
                worker=worker,
                metrics=metrics.for_model(name),
                config=settings.detector_config(),
                min_window_size=settings.min_window_size,
                trigger=trigger,
                rule=settings.retrain_rule(),
            )
            for name in settings.monitored_models()
        ]
    )
    consumers = [_consumer(redis, monitor, settings) for monitor in monitors]
    tasks = _tasks(monitors, consumers, settings)
    announcer = SyncRedis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    if settings.rollout.enabled:
        tasks.append(_rollout_task(settings, metrics, redis, announcer))
    try:
        yield monitors
    finally:
        for task in tasks:
            task.cancel()
        done, stuck = await asyncio.wait(tasks, timeout=_STOP_TIMEOUT_S)
        for task in done:  # retrieve what a loop ended with, so nothing is reported at exit
            if not task.cancelled() and task.exception() is not None:
                log.warning("%s had failed: %r", task.get_name(), task.exception())
        if stuck:  # each step is bounded, so a shutdown ends within the pod's grace period
            log.warning("tasks did not stop in time: %s", sorted(t.get_name() for t in stuck))
        if trigger is not None:
            trigger.close()
        announcer.close()
        await worker.close(_STOP_TIMEOUT_S)
        await redis.aclose()


def create_app(settings: DriftSettings) -> FastAPI:
    """Build the drift service for ``settings``; its loops run while the app's lifespan does."""
    metrics = DriftMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _running(settings, metrics) as monitors:
            app.state.monitors = monitors
            yield

    app = FastAPI(
        title="MLOps drift service",
        version=__version__,
        summary="Evidently drift checks of each model's live traffic against its production "
        "version's reference.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.include_router(router)
    install_error_handlers(app)
    return app
