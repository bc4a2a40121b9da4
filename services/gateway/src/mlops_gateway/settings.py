"""Gateway settings (env prefix ``GATEWAY_``; ``REDIS_URL``, ``MLFLOW_TRACKING_URI`` shared).

Admin keys come as a comma-separated list in ``GATEWAY_ADMIN_API_KEYS``. In production mode
(``GATEWAY_PRODUCTION=true``) the gateway refuses to start without keys, with the development
default, or with a key shorter than :data:`MIN_PRODUCTION_KEY_LENGTH` characters.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from mlops_common.api_keys import MIN_PRODUCTION_KEY_LENGTH, split_keys, weak_keys
from mlops_common.registry import MODEL_NAME
from mlops_common.settings import LOOPBACK, ServiceSettings, service_config

DEFAULT_ADMIN_KEY: Final = "dev-admin-key"


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from its environment."""

    model_config = service_config("GATEWAY_")

    host: str = Field(
        default=LOOPBACK,
        description="Address the HTTP server binds: loopback unless opened (the images set "
        "0.0.0.0).",
    )
    port: int = Field(default=8080, ge=0, le=65535, description="HTTP port (0 = any free port).")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="uvicorn worker processes. Each keeps its own traffic buffer and metrics, "
        "so with several /metrics shows the counts of whichever answers; more than one helps "
        "only when the host has idle cores (scale pods instead on Kubernetes).",
    )
    inference_target: str = Field(
        default="localhost:8001", description="host:port of the inference gRPC server."
    )
    model_name: str = Field(
        default=MODEL_NAME,
        validation_alias=AliasChoices("model_name", "GATEWAY_DEFAULT_MODEL", "GATEWAY_MODEL_NAME"),
        description="The default model (GATEWAY_DEFAULT_MODEL; GATEWAY_MODEL_NAME, its first "
        "name, still works): the one /v1/predict and the other first-wave routes serve.",
    )
    catalog_refresh_s: float = Field(
        default=2.0,
        gt=0,
        description="How often the served models and their specs are read from inference (in "
        "the background; a version inference answers with that is news triggers a read at once).",
    )
    inference_timeout_s: float = Field(
        default=2.0, gt=0, description="Deadline of one inference call, retries included."
    )
    inference_retries: int = Field(
        default=2,
        ge=0,
        le=4,
        description="Retries of a call answered UNAVAILABLE (gRPC: 4 at most).",
    )
    coalesce_max_inflight: int = Field(
        default=2,
        ge=0,
        description="Calls per model in flight to inference before further predictions wait "
        "and go out merged into one call when a slot frees (never waiting without concurrency); "
        "0 = every prediction its own call.",
    )
    coalesce_max_rows: int = Field(
        default=64, ge=1, description="Most rows of one merged call (inference's batch size)."
    )
    inference_backoff_s: float = Field(
        default=0.02,
        ge=0.005,
        description="First retry backoff (gRPC's initialBackoff; doubles on every retry). gRPC "
        "sometimes never fires a retry timer of a millisecond or so: 5 ms at least.",
    )
    drift_url: str = Field(
        default="http://localhost:8090", description="Base URL of the drift service."
    )
    registry_timeout_s: float = Field(
        default=10.0, gt=0, description="Deadline of a model-registry (MLflow) call."
    )
    drift_timeout_s: float = Field(
        default=2.0, gt=0, description="Timeout of drift calls (the verdict; connecting)."
    )
    drift_check_timeout_s: float = Field(
        default=30.0, gt=0, description="Deadline of a drift check asked through the gateway."
    )
    drift_report_timeout_s: float = Field(
        default=50.0,
        gt=0,
        description="Deadline for the drift service to start sending its Evidently report "
        "(it builds it on the first request after a check: seconds).",
    )
    admin_api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr(DEFAULT_ADMIN_KEY)],
        description="Keys accepted in X-API-Key on admin routes (comma-separated in the env).",
    )
    drift_api_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key the gateway sends in X-API-Key when it asks drift for a check (one of "
        "drift's DRIFT_ADMIN_API_KEYS); empty sends none, and drift refuses the check.",
    )
    production: bool = Field(
        default=False, description="Production mode: refuse missing, default or weak admin keys."
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, gt=0, description="Largest request body accepted (413 above)."
    )
    max_instances: int = Field(
        default=256, gt=0, description="Most instances or images in one prediction request."
    )
    max_text_chars: int = Field(
        default=20_000,
        gt=0,
        description="Most characters of one text sent to a text model (413 above, naming the "
        "text); the number of texts is bounded by GATEWAY_MAX_INSTANCES.",
    )
    max_image_bytes: int = Field(default=5 * 1024 * 1024, gt=0, description="Largest image.")
    max_image_pixels: int = Field(
        default=16_000_000, gt=0, description="Most pixels of one decoded image."
    )
    rate_limit_per_s: float = Field(
        default=0.0, ge=0, description="Requests per second per client; 0 turns the limit off."
    )
    rate_limit_burst: int = Field(default=100, gt=0, description="Burst the rate limit allows.")
    traffic_logging: bool = Field(default=True, description="Log predictions to Redis.")
    traffic_buffer_size: int = Field(
        default=10_000, gt=0, description="Most traffic entries held in memory awaiting Redis."
    )
    traffic_flush_interval_s: float = Field(
        default=0.05, gt=0, description="How often the traffic buffer is flushed to Redis."
    )
    traffic_batch_size: int = Field(default=500, gt=0, description="Entries per Redis pipeline.")
    traffic_stream_maxlen: int = Field(
        default=100_000, gt=0, description="Approximate bound of the traffic stream."
    )
    store_text: bool = Field(
        default=True,
        description="Keep a text model's texts in its traffic entries (field 'text'); false "
        "logs only the values its spec monitors.",
    )
    traffic_text_max_chars: int = Field(
        default=20_000,
        gt=0,
        description="Characters of a text kept in its traffic entry (longer texts are cut).",
    )
    prediction_ttl_s: int = Field(
        default=7 * 24 * 3600, gt=0, description="How long a prediction id accepts feedback."
    )
    redis_timeout_s: float = Field(default=0.5, gt=0, description="Redis socket timeouts.")

    @field_validator("admin_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        return split_keys(value)

    @model_validator(mode="after")
    def _refuse_weak_keys_in_production(self) -> GatewaySettings:
        if not self.production:
            return self
        if not self.admin_api_keys:
            raise ValueError("production mode needs GATEWAY_ADMIN_API_KEYS")
        if weak := weak_keys(self.admin_api_keys):
            raise ValueError(
                f"production mode refuses default or weak admin keys ({weak} of "
                f"{len(self.admin_api_keys)}): use random keys of at least "
                f"{MIN_PRODUCTION_KEY_LENGTH} characters in GATEWAY_ADMIN_API_KEYS"
            )
        return self
