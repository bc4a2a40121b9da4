"""What every page shares: settings, the cached client, error messages, the admin key field.

A page never lets an exception reach Streamlit: it calls the client inside :func:`guarded`,
which turns each :class:`~mlops_frontend.client.ClientError` into one clear ``st.error``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import streamlit as st
from pydantic import ValidationError

from mlops_frontend.api import MalformedAnswerError
from mlops_frontend.client import (
    ApiError,
    ClientError,
    PlatformClient,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from mlops_frontend.settings import FrontendSettings

T = TypeVar("T")

APP_TITLE = "MLOps platform"
ERROR_ICON = ":material/error:"
#: Why retraining is off when a model's spec says ``trainable: false``.
NOT_TRAINABLE = (
    "its spec says `trainable: false` (an imported model: the platform has no training "
    "recipe for it). Register a new version with `mlops-train import` instead."
)

#: What a person can do about a dependency the gateway reports as down.
_DEPENDENCY_HINTS = {
    "inference_unavailable": "The inference service is down or has no model loaded.",
    "redis_unavailable": "Redis (traffic log and feedback store) is down.",
    "broker_unavailable": "The job queue (Redis / Celery broker) is down.",
    "registry_unavailable": "The model registry (MLflow) is down.",
    "drift_unavailable": "The drift service is down.",
}


class SettingsError(RuntimeError):
    """The frontend's own configuration is invalid."""


def settings() -> FrontendSettings:
    """The settings, read from the environment (cheap; read on every run so tests can vary it)."""
    try:
        return FrontendSettings()
    except ValidationError as exc:
        raise SettingsError(str(exc)) from exc


@st.cache_resource(show_spinner=False)
def _client(
    gateway_url: str,
    connect_timeout_s: float,
    request_timeout_s: float,
    report_timeout_s: float,
) -> PlatformClient:
    return PlatformClient(
        gateway_url,
        connect_timeout_s=connect_timeout_s,
        request_timeout_s=request_timeout_s,
        report_timeout_s=report_timeout_s,
    )


def client(config: FrontendSettings | None = None) -> PlatformClient:
    """The process-wide client for the configured URLs and timeouts."""
    config = config or settings()
    return _client(
        config.gateway_url,
        config.connect_timeout_s,
        config.request_timeout_s,
        config.report_timeout_s,
    )


def describe(error: Exception) -> str:
    """One sentence (Markdown) a person can act on, for any failure of a call."""
    if isinstance(error, ServiceUnavailableError):
        name = "gateway" if error.service == "gateway" else f"{error.service} service"
        reason = error.message.rsplit(": ", 1)[-1]
        return f"**The {name} is unreachable** at `{error.url}` ({reason}). Is it running?"
    if isinstance(error, ServiceTimeoutError):
        return (
            f"**The {error.service} is too slow**: no answer within {error.timeout_s:g} s. "
            "Try again in a moment."
        )
    if isinstance(error, ApiError):
        return _describe_api_error(error)
    if isinstance(error, MalformedAnswerError):
        return f"**Unexpected answer from the platform**: {error}"
    return f"**Something went wrong**: {error}"


def _describe_api_error(error: ApiError) -> str:
    if error.status == 401:
        return "**Admin key required**: enter the admin API key to do this."
    if error.status == 403:
        return "**Admin key refused**: the key is not valid for this gateway."
    if error.status == 429:
        return "**Too many requests**: the gateway is rate-limiting; wait a moment."
    if error.status == 413:
        return (
            f"**Too large for the gateway**: {error.message}. Send less: a shorter text, a "
            "smaller image or fewer instances."
        )
    hint = _DEPENDENCY_HINTS.get(error.code)
    if hint or error.status == 503:
        return f"**{hint or 'A service the gateway needs is down.'}** {error.message}"
    if error.status == 504:
        return f"**The platform did not answer in time**: {error.message}"
    return f"**{error.message}** (`{error.code}`, HTTP {error.status})"


@contextmanager
def guarded() -> Iterator[None]:
    """Show a failed call as an error box instead of a traceback; the page goes on."""
    try:
        yield
    except (ClientError, MalformedAnswerError) as exc:
        st.error(describe(exc), icon=ERROR_ICON)


def fetch(call: Callable[[], T]) -> T | None:
    """Run ``call``; on failure show the error box and return None."""
    try:
        return call()
    except (ClientError, MalformedAnswerError) as exc:
        st.error(describe(exc), icon=ERROR_ICON)
        return None


def admin_key(config: FrontendSettings, key: str) -> str:
    """The admin API key: from settings when configured, else a password field on the page."""
    configured = config.admin_api_key.get_secret_value()
    if configured:
        st.caption("Admin actions use the key configured in `FRONTEND_ADMIN_API_KEY`.")
        return configured
    entered = st.text_input(
        "Admin API key",
        type="password",
        key=key,
        help="Sent as X-API-Key; set FRONTEND_ADMIN_API_KEY to skip this field.",
    )
    return entered.strip()


def version_label(version: str | None) -> str:
    """``v7`` for a registered version; the raw text for anything else."""
    if not version:
        return "unknown"
    return f"v{version}" if version.isdigit() else version


def timestamp(value: str | dt.datetime | None) -> str:
    """A time as full ``YYYY-MM-DD HH:MM:SS UTC`` text (ISO 8601 text is read; any other text
    is shown as it is); ``—`` when there is none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    zoned = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return zoned.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
