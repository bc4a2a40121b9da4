"""JSON logs carry the service and, inside a span, the trace; tracing follows OTEL_* variables."""

from __future__ import annotations

import io
import json
import logging

from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from mlops_common.logs import configure_logging
from mlops_common.telemetry import build_tracer_provider, latency_histogram, render_metrics


def test_json_lines_with_service_extra_and_trace_ids() -> None:
    stream = io.StringIO()
    configure_logging("demo", level="INFO", stream=stream)
    log = logging.getLogger("demo.module")
    provider = build_tracer_provider("demo", environ={})
    with provider.get_tracer("t").start_as_current_span("work") as span:
        log.info("inside", extra={"version": "4"})
        trace_id = format(span.get_span_context().trace_id, "032x")
    log.warning("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["service"] == "demo"
    assert first["message"] == "inside"
    assert first["version"] == "4"
    assert first["trace_id"] == trace_id
    assert len(first["span_id"]) == 16
    assert second["level"] == "WARNING"
    assert "trace_id" not in second


def test_exceptions_are_logged_as_text() -> None:
    stream = io.StringIO()
    configure_logging("demo", stream=stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("x").exception("failed")
    record = json.loads(stream.getvalue())
    assert "RuntimeError: boom" in record["exception"]


def _processors(provider: object) -> list[object]:
    multi = provider._active_span_processor  # type: ignore[attr-defined]
    return list(multi._span_processors)


def test_no_exporter_without_endpoint() -> None:
    assert _processors(build_tracer_provider("demo", environ={})) == []


def test_otlp_exporter_when_endpoint_set() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}
    processors = _processors(build_tracer_provider("demo", environ=env))
    assert len(processors) == 1
    assert isinstance(processors[0], BatchSpanProcessor)


def test_sdk_disabled_and_service_name_override() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "OTEL_SDK_DISABLED": "true",
        "OTEL_SERVICE_NAME": "renamed",
    }
    provider = build_tracer_provider("demo", environ=env)
    assert _processors(provider) == []
    assert provider.resource.attributes["service.name"] == "renamed"


def test_extra_processor_receives_spans() -> None:
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider(
        "demo", environ={}, extra_processors=(SimpleSpanProcessor(exporter),)
    )
    with provider.get_tracer("t").start_as_current_span("op"):
        pass
    assert [span.name for span in exporter.get_finished_spans()] == ["op"]


def test_latency_histogram_renders() -> None:
    registry = CollectorRegistry()
    histogram = latency_histogram("demo_seconds", "Demo.", ("route",), registry=registry)
    histogram.labels(route="/x").observe(0.003)
    body, content_type = render_metrics(registry)
    assert b'demo_seconds_bucket{le="0.005",route="/x"} 1.0' in body
    assert content_type.startswith("text/plain")
