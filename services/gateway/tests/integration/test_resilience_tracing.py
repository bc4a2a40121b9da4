"""Redis stopped mid-test (predictions go on, drops counted, recovery) and one trace end to end."""

from __future__ import annotations

import time

import httpx
import redis
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mlops_common.redis_keys import TrafficEntry, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.servers import RedisServer

from .conftest import GatewayFactory, metric_value

STREAM = traffic_stream(MODEL_NAME)

DIGIT = [4.0] * 64


def _wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _metric(http: httpx.Client, name: str) -> float:
    return metric_value(http.get("/metrics").text, name)


def test_redis_stopped_mid_test(gateway_factory: GatewayFactory, redis_server: RedisServer) -> None:
    url = gateway_factory(redis_url=redis_server.url, redis_timeout_s=0.2)
    store = redis.Redis.from_url(redis_server.url)
    with httpx.Client(base_url=url, timeout=10) as http:
        first = http.post("/v1/predict", json={"instances": [DIGIT]})
        assert first.status_code == 200
        _wait_for(lambda: store.xlen(STREAM) == 1)
        assert _metric(http, "gateway_traffic_logged_total") == 1

        redis_server.stop()
        statuses = [
            http.post("/v1/predict", json={"instances": [DIGIT, DIGIT]}).status_code
            for _ in range(5)
        ]
        assert statuses == [200] * 5
        _wait_for(lambda: _metric(http, "gateway_traffic_dropped_total") == 10)
        assert _metric(http, "gateway_traffic_buffer_depth") == 0
        assert http.get("/healthz").status_code == 200
        feedback = http.post("/v1/feedback", json={"id": first.json()["request_id"], "label": 1})
        assert feedback.status_code == 503
        assert feedback.json()["error"]["code"] == "redis_unavailable"

        redis_server.start()
        recovered = http.post("/v1/predict", json={"instances": [DIGIT]})
        assert recovered.status_code == 200
        request_id = recovered.json()["request_id"]
        _wait_for(lambda: store.xlen(STREAM) == 1)
        (entry,) = [TrafficEntry.decode(f) for _, f in store.xrange(STREAM)]
        assert entry.request_id == request_id
        assert _metric(http, "gateway_traffic_logged_total") == 2
        assert _metric(http, "gateway_traffic_dropped_total") == 10
        ok = http.post("/v1/feedback", json={"id": request_id, "label": 4})
        assert ok.status_code == 200


def test_one_trace_spans_gateway_and_inference(
    client: httpx.Client, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    response = client.post("/v1/predict", json={"instances": [DIGIT]})
    assert response.status_code == 200
    _wait_for(
        lambda: any(
            s.kind == SpanKind.SERVER and s.name == "POST /v1/predict"
            for s in spans.get_finished_spans()
        )
    )
    finished = spans.get_finished_spans()
    gateway = [s for s in finished if s.kind == SpanKind.SERVER and s.name == "POST /v1/predict"]
    client_calls = [s for s in finished if s.kind == SpanKind.CLIENT and "ModelInfer" in s.name]
    inference = [s for s in finished if s.kind == SpanKind.SERVER and "ModelInfer" in s.name]
    assert len(gateway) == 1
    assert len(client_calls) == 1
    assert len(inference) == 1
    trace_id = gateway[0].context.trace_id
    assert client_calls[0].context.trace_id == trace_id
    assert inference[0].context.trace_id == trace_id
    assert inference[0].parent is not None
    assert inference[0].parent.span_id == client_calls[0].context.span_id
