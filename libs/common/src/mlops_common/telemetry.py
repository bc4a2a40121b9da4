"""OpenTelemetry tracing and Prometheus helpers.

Tracing is configured from the standard ``OTEL_*`` variables: a span exporter over OTLP/gRPC
is added only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is
set (the exporter reads the endpoint, headers and timeouts itself); otherwise spans are created
(so trace ids reach the logs and propagate over gRPC) but exported nowhere.
``OTEL_SDK_DISABLED=true`` turns tracing off entirely. ``OTEL_SERVICE_NAME`` overrides the name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, start_http_server
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

#: Latency buckets (seconds) from 0.5 ms to 10 s, fine where our requests live (1–50 ms).
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075,
    0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


def otlp_endpoint_configured(environ: Mapping[str, str] | None = None) -> bool:
    """True when the standard variables name an OTLP endpoint for traces."""
    env = os.environ if environ is None else environ
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def build_tracer_provider(
    service: str,
    environ: Mapping[str, str] | None = None,
    extra_processors: tuple[SpanProcessor, ...] = (),
) -> TracerProvider:
    """Build a tracer provider for ``service`` from the ``OTEL_*`` variables.

    ``extra_processors`` lets tests attach an in-memory exporter.
    """
    env = os.environ if environ is None else environ
    disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)
    if not disabled and otlp_endpoint_configured(env):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    return provider


def setup_tracing(service: str, environ: Mapping[str, str] | None = None) -> TracerProvider:
    """Build the tracer provider and install it as the global one; return it for shutdown."""
    provider = build_tracer_provider(service, environ)
    trace.set_tracer_provider(provider)
    return provider


def latency_histogram(
    name: str,
    documentation: str,
    labelnames: tuple[str, ...] = (),
    registry: CollectorRegistry = REGISTRY,
) -> Histogram:
    """A seconds histogram with :data:`LATENCY_BUCKETS`, registered in ``registry``."""
    return Histogram(
        name,
        documentation,
        labelnames=labelnames,
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )


def render_metrics(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The Prometheus text exposition of ``registry`` and its content type (for /metrics routes)."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def start_metrics_server(port: int, registry: CollectorRegistry, addr: str = "127.0.0.1") -> None:
    """Serve ``registry`` on ``addr:port`` from a daemon thread (for non-HTTP services)."""
    start_http_server(port, addr=addr, registry=registry)
