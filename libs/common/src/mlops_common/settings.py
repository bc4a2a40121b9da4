"""Settings base shared by every service.

Each service subclasses :class:`ServiceSettings` with its own env prefix (``GATEWAY_``,
``INFERENCE_``, ...). The names every service shares are read without a prefix:
``REDIS_URL``, ``MLFLOW_TRACKING_URI``, ``LOG_LEVEL``, ``MLOPS_STATE_DIR``, ``MLOPS_GC_TUNING``
and ``OTEL_SDK_DISABLED``. The other standard ``OTEL_*`` variables are read by OpenTelemetry itself
(see :mod:`mlops_common.telemetry`).

Nothing is read at import: settings are read when a service's ``__main__`` builds them, and
tests build them with explicit values::

    class GatewaySettings(ServiceSettings):
        model_config = service_config("GATEWAY_")
        port: int = 8080

    settings = GatewaySettings()             # from the environment
    settings = GatewaySettings(port=0)       # in a test
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
S = TypeVar("S", bound=BaseSettings)

#: Where every service listens unless told otherwise: nothing is reachable from the network
#: until a setting opens it (the container images set their ``*_HOST`` to ``0.0.0.0``).
LOOPBACK = "127.0.0.1"

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_STATE_DIR = Path(".state")


def service_config(env_prefix: str) -> SettingsConfigDict:
    """Return the settings config every service uses, with its own env prefix."""
    return SettingsConfigDict(
        env_prefix=env_prefix,
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
        case_sensitive=False,
    )


def is_loopback(host: str) -> bool:
    """True when binding ``host`` is reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def describe_validation_error(exc: ValidationError) -> str:
    """One line per invalid setting, without the values given (a key must never be echoed)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


def read_settings(settings_type: type[S], service: str) -> S:
    """Read a service's settings from the environment; exit with the invalid ones named (not
    their values, nor a traceback) when they do not validate."""
    try:
        return settings_type()
    except ValidationError as exc:
        sys.exit(f"{service}: invalid settings:\n{describe_validation_error(exc)}")


def default_tracking_uri(state_dir: Path) -> str:
    """The MLflow store used when ``MLFLOW_TRACKING_URI`` is unset: sqlite under the state dir."""
    return f"sqlite:///{(state_dir / 'mlflow' / 'mlflow.db').resolve()}"


class ServiceSettings(BaseSettings):
    """Fields every service shares, read without the service's prefix."""

    model_config = service_config("")

    redis_url: str = Field(
        default=DEFAULT_REDIS_URL,
        validation_alias=AliasChoices("REDIS_URL", "redis_url"),
        description="Redis server for the traffic stream, feedback, model events and Celery.",
    )
    state_dir: Path = Field(
        default=DEFAULT_STATE_DIR,
        validation_alias=AliasChoices("MLOPS_STATE_DIR", "state_dir"),
        description="Folder for local state (MLflow store, data, logs); git-ignored.",
    )
    mlflow_tracking_uri: str = Field(
        default="",
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "mlflow_tracking_uri"),
        description="MLflow tracking/registry URI; empty means sqlite under the state dir.",
    )
    log_level: LogLevel = Field(
        default="INFO",
        validation_alias=AliasChoices("LOG_LEVEL", "log_level"),
        description="Root log level.",
    )
    gc_tuning: bool = Field(
        default=True,
        validation_alias=AliasChoices("MLOPS_GC_TUNING", "gc_tuning"),
        description="Freeze startup objects and raise gc thresholds once serving "
        "(mlops_common.gc_tuning); false keeps CPython's defaults.",
    )
    otel_sdk_disabled: bool = Field(
        default=False,
        validation_alias=AliasChoices("OTEL_SDK_DISABLED", "otel_sdk_disabled"),
        description="OpenTelemetry's standard switch: true turns tracing off entirely.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("otel_sdk_disabled", mode="before")
    @classmethod
    def _otel_true_only(cls, value: object) -> object:
        # The OpenTelemetry spec: only "true" (any case) disables; anything else, "" too, does not.
        return value.strip().lower() == "true" if isinstance(value, str) else value

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI to use: the configured one or the local sqlite default."""
        return self.mlflow_tracking_uri or default_tracking_uri(self.state_dir)
