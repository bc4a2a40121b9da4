"""Prometheus metrics of the inference service (names fixed in docs/contracts.md).

Each server owns its :class:`InferenceMetrics` with its own registry, so several servers can
run in one process (tests) without clashing in the global registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mlops_common.telemetry import latency_histogram

#: Batch sizes (rows) worth telling apart.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class InferenceMetrics:
    """The service's counters, gauges and histograms in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "inference_requests",
            "gRPC requests by method and status code.",
            ("method", "code"),
            registry=self.registry,
        )
        self.duration = latency_histogram(
            "inference_request_duration_seconds",
            "Time to answer a gRPC request.",
            ("method",),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "inference_batch_size",
            "Rows per model run.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_duration = latency_histogram(
            "inference_batch_duration_seconds",
            "Time one model run takes inside the service (onnxruntime, one batch).",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "inference_queue_depth", "Requests waiting for a batch.", registry=self.registry
        )
        self.model_info = Gauge(
            "inference_model_info",
            "1 for the model version being served.",
            ("name", "version"),
            registry=self.registry,
        )
        self.swaps = Counter(
            "inference_model_swaps",
            "Times a new model version replaced the served one.",
            registry=self.registry,
        )
        self.load_failures = Counter(
            "inference_model_load_failures",
            "Model versions that could not be loaded or warmed up.",
            registry=self.registry,
        )

    def set_served(self, name: str, version: str) -> None:
        """Mark ``version`` as the one served (and no other)."""
        self.model_info.clear()
        self.model_info.labels(name=name, version=version).set(1)
