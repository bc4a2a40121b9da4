"""Settings of the inference service (env prefix ``INFERENCE_``).

The names every deployment relies on are fixed in ARCHITECTURE.md: ``INFERENCE_MODELS`` (the
models served, see :mod:`mlops_inference.catalog`), or for one model ``INFERENCE_MODEL_URI`` and
``INFERENCE_MODEL_NAME``, ``INFERENCE_PORT``, ``INFERENCE_METRICS_PORT``,
``INFERENCE_MAX_BATCH_SIZE`` and ``INFERENCE_BATCHING`` (``on``/``off``). The others tune the
batcher, onnxruntime, the model watcher and shadow evaluation (``INFERENCE_SHADOW*``).
``REDIS_URL``, ``MLFLOW_TRACKING_URI`` and ``LOG_LEVEL`` come from
:class:`~mlops_common.settings.ServiceSettings`.
"""

from __future__ import annotations

import os

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from mlops_common.registry import MODEL_NAME, PRODUCTION_URI
from mlops_common.settings import LOOPBACK, ServiceSettings, service_config
from mlops_inference.catalog import ModelConfig, parse_models


def available_cpus() -> int:
    """How many CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class InferenceSettings(ServiceSettings):
    """Everything the inference service reads from the environment."""

    model_config = service_config("INFERENCE_") | SettingsConfigDict(protected_namespaces=())

    model_uri: str = Field(
        default=PRODUCTION_URI,
        description="`models:/<name>@<alias>`, `models:/<name>/<version>` or a .onnx file path.",
    )
    model_name: str = Field(
        default=MODEL_NAME, description="The name the model is served under, whatever its source."
    )
    models: str = Field(
        default="",
        description="The models served: comma-separated names (each served from "
        "`models:/<name>@production`) or `name=uri` pairs (uri: a `models:/` URI or a .onnx "
        "path). Unset: the one model of `INFERENCE_MODEL_URI` under `INFERENCE_MODEL_NAME`.",
    )
    host: str = Field(
        default=LOOPBACK,
        description="Interface the gRPC and metrics servers bind: loopback unless opened (the "
        "image sets 0.0.0.0).",
    )
    port: int = Field(default=8001, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(
        default=8002, ge=-1, le=65535, description="Prometheus port; 0 picks a free one, -1 = off."
    )
    batching: bool = Field(default=True, description="Dynamic batching on/off.")
    max_batch_size: int = Field(default=64, ge=1, description="Most rows run in one batch.")
    max_batch_wait_ms: float = Field(
        default=1.0,
        ge=0.0,
        description="How long a forming batch may wait for more rows (never when idle).",
    )
    max_queue_size: int = Field(
        default=1024, ge=1, description="Requests waiting for a batch; beyond → RESOURCE_EXHAUSTED."
    )
    max_request_rows: int = Field(
        default=1024, ge=1, description="Most rows (instances) one request may carry."
    )
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        description="onnxruntime intra-op threads; 0 = every CPU this process may use (its "
        "threads sleep between batches: no spinning).",
    )
    inference_workers: int = Field(
        default=0,
        ge=0,
        description="Threads running the model with batching off; 0 = the CPUs we may use.",
    )
    inline_max_ms: float = Field(
        default=0.5,
        ge=0.0,
        description="Run a batch on the event loop when the model should take less than this "
        "for its rows (timed at warm-up; a thread hop costs more than such a run), and a "
        "shadowed candidate when a full batch of it does; 0 = always in a thread.",
    )
    gil_switch_interval_ms: float = Field(
        default=1.0,
        gt=0.0,
        description="Python's thread switch interval set by `python -m mlops_inference`: "
        "shorter than the 5 ms default so a finished model run is not kept waiting.",
    )
    poll_interval_s: float = Field(
        default=15.0, gt=0.0, description="Seconds between polls of the registry for a new version."
    )
    watch_redis: bool = Field(
        default=True, description="Also listen on the Redis channel `model-events` for promotions."
    )
    tracing: bool | None = Field(
        default=None,
        description="OpenTelemetry server spans (continuing the caller's trace). Unset: on when "
        "spans go somewhere (an OTLP endpoint in OTEL_EXPORTER_OTLP_*, or a tracer provider "
        "given in-process), off otherwise, so an unexported span costs nothing. "
        "OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG set the sampling.",
    )
    max_message_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest gRPC message sent or received."
    )
    grace_period_s: float = Field(
        default=5.0, ge=0.0, description="How long in-flight requests may finish on shutdown."
    )

    shadow: bool = Field(
        default=True,
        description="Shadow evaluation: a model served from `models:/<name>@production` whose "
        "`staging` version differs also loads that candidate and runs it on a share of live "
        "requests after production has answered, writing both answers to `shadow:<name>`.",
    )
    shadow_share: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="Share of requests shadowed; the `shadow_share` field of the Redis hash "
        "`rollout:<name>` overrides it per model (and `shadow: off` there stops shadowing).",
    )
    shadow_queue_size: int = Field(
        default=256,
        ge=1,
        description="Requests waiting for the candidate; beyond, shadow work is dropped "
        "(counted), never the production answer.",
    )
    shadow_threads: int = Field(
        default=1,
        ge=1,
        description="onnxruntime intra-op threads of a candidate. Its runs also go at the "
        "lowest CPU priority, so production keeps the CPUs it needs.",
    )

    @field_validator("models")
    @classmethod
    def _models_parse(cls, value: str) -> str:
        if value.strip():
            parse_models(value)  # raises ValueError naming INFERENCE_MODELS and the entry
        return value.strip()

    def served_models(self) -> tuple[ModelConfig, ...]:
        """The models to serve: ``INFERENCE_MODELS``, or the one of ``model_uri``/``model_name``."""
        if self.models:
            return parse_models(self.models)
        return (ModelConfig(self.model_name, self.model_uri),)

    def cpu_threads(self) -> int:
        """onnxruntime intra-op threads to use: ``intra_op_threads``, or every CPU we may use.

        Measured on 2 CPUs (``benchmarks/inference_serving.py``, one run each): leaving one CPU
        to the gRPC event loop cut the larger model's batched throughput by a third (1,121 vs
        1,702 req/s at c=64) and raised its p99 (72 vs 58 ms); the default model's c=1 latency
        did not move.
        """
        return self.intra_op_threads or available_cpus()

    def worker_threads(self) -> int:
        """Threads that run unbatched requests."""
        return self.inference_workers or available_cpus()
