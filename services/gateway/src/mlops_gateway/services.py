"""The clients the gateway holds for its life, opened and closed by the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from celery import Celery
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.trace import TracerProvider
from redis.asyncio import Redis

from mlops_common.jobs import celery_sender
from mlops_gateway.catalog import ModelCatalog
from mlops_gateway.coalesce import Coalescer
from mlops_gateway.drift import DriftClient
from mlops_gateway.feedback import FeedbackStore
from mlops_gateway.inference import InferenceClient
from mlops_gateway.jobs import JobQueue
from mlops_gateway.metrics import GatewayMetrics
from mlops_gateway.predictor import Predictor
from mlops_gateway.registry import ModelRegistry
from mlops_gateway.rollout import Rollouts
from mlops_gateway.rollout_store import RolloutStore
from mlops_gateway.settings import GatewaySettings
from mlops_gateway.traffic import TrafficLogger


@dataclass
class Services:
    """Everything a request handler may need, built once."""

    settings: GatewaySettings
    metrics: GatewayMetrics
    redis: Redis
    inference: InferenceClient
    catalog: ModelCatalog
    traffic: TrafficLogger | None
    predictor: Predictor
    feedback: FeedbackStore
    jobs: JobQueue
    registry: ModelRegistry
    rollouts: Rollouts
    drift: DriftClient
    celery: Celery


@contextlib.asynccontextmanager
async def open_services(
    settings: GatewaySettings, metrics: GatewayMetrics, tracer_provider: TracerProvider | None
) -> AsyncIterator[Services]:
    """Open the channel, the Redis client, the Celery client; close them all on exit.

    gRPC client spans go to ``tracer_provider``; ``None`` = no client interceptor at all.
    """
    redis = Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
    )
    inference = InferenceClient(
        settings.inference_target,
        settings.model_name,
        timeout_s=settings.inference_timeout_s,
        retries=settings.inference_retries,
        backoff_s=settings.inference_backoff_s,
        interceptors=(
            aio_client_interceptors(tracer_provider=tracer_provider)  # type: ignore[no-untyped-call]
            if tracer_provider is not None
            else ()
        ),
    )
    catalog = ModelCatalog(inference, settings.model_name, refresh_s=settings.catalog_refresh_s)
    catalog.start()
    traffic: TrafficLogger | None = None
    if settings.traffic_logging:
        traffic = TrafficLogger(
            redis,
            capacity=settings.traffic_buffer_size,
            flush_interval_s=settings.traffic_flush_interval_s,
            batch_size=settings.traffic_batch_size,
            stream_maxlen=settings.traffic_stream_maxlen,
            prediction_ttl_s=settings.prediction_ttl_s,
            on_logged=metrics.traffic_logged.inc,
            on_dropped=metrics.traffic_dropped.inc,
        )
        metrics.traffic_buffer_depth.set_function(lambda: traffic.depth if traffic else 0)
        traffic.start()
    celery = celery_sender(settings.redis_url, timeout_s=settings.redis_timeout_s)
    drift = DriftClient(
        settings.drift_url,
        settings.drift_timeout_s,
        check_timeout_s=settings.drift_check_timeout_s,
        report_timeout_s=settings.drift_report_timeout_s,
        api_key=settings.drift_api_key,
    )
    registry = ModelRegistry(
        settings.tracking_uri, settings.model_name, redis, settings.registry_timeout_s
    )
    services = Services(
        settings=settings,
        metrics=metrics,
        redis=redis,
        inference=inference,
        catalog=catalog,
        traffic=traffic,
        predictor=Predictor(
            inference,
            catalog,
            traffic,
            metrics,
            max_instances=settings.max_instances,
            max_image_bytes=settings.max_image_bytes,
            max_image_pixels=settings.max_image_pixels,
            max_text_chars=settings.max_text_chars,
            store_text=settings.store_text,
            traffic_text_max_chars=settings.traffic_text_max_chars,
            coalescer=Coalescer(
                inference,
                max_inflight=settings.coalesce_max_inflight,
                max_rows=settings.coalesce_max_rows,
                observe=metrics.call_requests.observe,
            ),
        ),
        feedback=FeedbackStore(redis, traffic, settings.prediction_ttl_s, catalog.classes_of),
        jobs=JobQueue(celery),
        registry=registry,
        rollouts=Rollouts(RolloutStore(redis), registry, catalog),
        drift=drift,
        celery=celery,
    )
    try:
        yield services
    finally:
        await catalog.stop()
        if traffic is not None:
            await traffic.stop()
        await drift.close()
        await inference.close()
        await redis.aclose()
        await asyncio.to_thread(celery.close)
