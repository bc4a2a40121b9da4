"""Prometheus metrics of the inference service (names fixed in docs/contracts.md).

Each server owns its :class:`InferenceMetrics` with its own registry, so several servers can
run in one process (tests) without clashing in the global registry. What is per model carries a
``model`` label (the served name; ``""`` for server-wide calls and unknown names):
requests, request duration, batch size, batch duration and ``inference_model_ready``;
``inference_model_info`` names the model in its ``name`` label, as before. Queue depth, swaps
and load failures stay server-wide totals (the logs name the model).

Shadow evaluation (:mod:`mlops_inference.shadow`) has its own ``inference_shadow_*`` family,
labelled by the served model: requests by outcome, rows, agreeing rows, confidence sums per
role (mean confidence = sum / rows), the candidate's batch time and the loaded candidate.
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
            "gRPC requests by method, status code and model.",
            ("method", "code", "model"),
            registry=self.registry,
        )
        self.duration = latency_histogram(
            "inference_request_duration_seconds",
            "Time to answer a gRPC request.",
            ("method", "model"),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "inference_batch_size",
            "Rows per model run.",
            ("model",),
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_duration = latency_histogram(
            "inference_batch_duration_seconds",
            "Time one model run takes inside the service (onnxruntime, one batch).",
            ("model",),
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
        self.model_ready = Gauge(
            "inference_model_ready",
            "1 while the model is loaded and serves, 0 otherwise (see the logs for why).",
            ("model",),
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

        self.shadow_requests = Counter(
            "inference_shadow_requests",
            "Shadowed requests by outcome: run (the candidate answered), dropped (shadow queue "
            "full), failed (the candidate raised), unwritten (the record could not reach Redis).",
            ("model", "outcome"),
            registry=self.registry,
        )
        self.shadow_rows = Counter(
            "inference_shadow_rows",
            "Rows the candidate answered beside production.",
            ("model",),
            registry=self.registry,
        )
        self.shadow_agreed_rows = Counter(
            "inference_shadow_agreed_rows",
            "Shadowed rows where candidate and production chose the same class.",
            ("model",),
            registry=self.registry,
        )
        # A gauge that only grows: a counter would be exposed as ``..._sum_total``.
        self.shadow_confidence = Gauge(
            "inference_shadow_confidence_sum",
            "Running sum of the confidences of shadowed rows, by role (production or "
            "candidate); only grows, like a histogram's _sum.",
            ("model", "role"),
            registry=self.registry,
        )
        self.shadow_batch_duration = latency_histogram(
            "inference_shadow_batch_duration_seconds",
            "Time one candidate run takes (onnxruntime, one shadow batch).",
            ("model",),
            registry=self.registry,
        )
        self.shadow_candidate = Gauge(
            "inference_shadow_candidate",
            "1 for the staged candidate version loaded for shadow evaluation.",
            ("model", "version"),
            registry=self.registry,
        )
        self.shadow_incompatible = Counter(
            "inference_shadow_incompatible",
            "Candidate versions not shadowed because their inputs differ from production's.",
            ("model",),
            registry=self.registry,
        )

    def set_served(self, name: str, version: str, old_version: str | None = None) -> None:
        """Mark ``version`` as the one of model ``name`` served (no longer ``old_version``)."""
        if old_version is not None and old_version != version:
            self.model_info.remove(name, old_version)
        self.model_info.labels(name=name, version=version).set(1)
