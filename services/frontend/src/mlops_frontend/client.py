"""The one client the pages use to talk to the platform: the gateway's REST API over httpx.

Every failure becomes a :class:`ClientError` the pages can show as one clear sentence:

- :class:`ServiceUnavailableError` — nothing answers (connection refused, DNS, network down);
- :class:`ServiceTimeoutError` — it answered too slowly;
- :class:`ApiError` — it answered with an error status, carrying the gateway's
  ``{"error": {"code", "message"}}`` (or what could be read of a non-JSON answer);
- :class:`MalformedAnswerError` (from :mod:`mlops_frontend.api`) — a 2xx body off the contract.

Streamlit runs page scripts in threads, so the client is synchronous; one instance per gateway
URL is shared between sessions (httpx's connection pool is thread-safe).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from mlops_frontend.api import (
    AnswerT,
    DriftVerdict,
    ErrorAnswer,
    JobAccepted,
    JobStatus,
    MalformedAnswerError,
    ModelCatalog,
    ModelDetail,
    Predictions,
    Promotion,
    parse,
)
from mlops_frontend.rollout_api import Rollout
from mlops_frontend.settings import FrontendSettings

API_KEY_HEADER = "X-API-Key"


class ClientError(Exception):
    """Base of every failure the pages show; ``service`` names who failed, ``url`` where."""

    def __init__(self, message: str, *, service: str, url: str) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.url = url


class ServiceUnavailableError(ClientError):
    """No answer at all: connection refused, unknown host, network error."""


class ServiceTimeoutError(ClientError):
    """The service did not answer within the timeout."""

    def __init__(self, message: str, *, service: str, url: str, timeout_s: float) -> None:
        super().__init__(message, service=service, url=url)
        self.timeout_s = timeout_s


class ApiError(ClientError):
    """An error answer: HTTP ``status`` with the API's ``code`` and ``message``."""

    def __init__(self, message: str, *, service: str, url: str, status: int, code: str) -> None:
        super().__init__(message, service=service, url=url)
        self.status = status
        self.code = code


def _error_of(response: httpx.Response, service: str) -> ApiError:
    """Read ``{"error": {"code", "message"}}`` (or FastAPI's ``detail``) from an error answer."""
    try:
        body = ErrorAnswer.model_validate_json(response.content)
    except ValueError:  # not JSON, or not the API's error shape: its text is the message
        body = ErrorAnswer.model_validate({"detail": response.text.strip()[:300]})
    return ApiError(
        body.message or response.reason_phrase or "error",
        service=service,
        url=str(response.url),
        status=response.status_code,
        code=body.code or f"http_{response.status_code}",
    )


class PlatformClient:
    """Calls the gateway's REST API, the one address of the platform the pages use."""

    def __init__(
        self,
        gateway_url: str,
        *,
        connect_timeout_s: float = 2.0,
        request_timeout_s: float = 10.0,
        report_timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self._timeout = httpx.Timeout(request_timeout_s, connect=connect_timeout_s)
        self._report_timeout = httpx.Timeout(report_timeout_s, connect=connect_timeout_s)
        self._http = httpx.Client(timeout=self._timeout, transport=transport)

    @classmethod
    def from_settings(cls, settings: FrontendSettings) -> PlatformClient:
        """A client configured by the frontend's settings."""
        return cls(
            settings.gateway_url,
            connect_timeout_s=settings.connect_timeout_s,
            request_timeout_s=settings.request_timeout_s,
            report_timeout_s=settings.report_timeout_s,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- transport -------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        api_key: str | None = None,
        timeout: httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        service, base = "gateway", self.gateway_url
        url = base + path
        headers = {API_KEY_HEADER: api_key} if api_key else {}
        chosen = timeout or self._timeout
        try:
            response = self._http.request(method, url, headers=headers, timeout=chosen, **kwargs)
        except httpx.TimeoutException as exc:
            wait = chosen.read or 0.0
            raise ServiceTimeoutError(
                f"the {service} did not answer within {wait:g} s",
                service=service,
                url=url,
                timeout_s=wait,
            ) from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(
                f"cannot reach the {service} at {base}: {_reason(exc)}",
                service=service,
                url=base,
            ) from exc
        if response.is_error:
            raise _error_of(response, service)
        return response

    def _json(self, kind: type[AnswerT], method: str, path: str, **kwargs: Any) -> AnswerT:
        response = self._call(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError as exc:
            raise MalformedAnswerError(f"{path} answered without JSON") from exc
        return parse(kind, body)

    # -- models ------------------------------------------------------------------------------

    def models(self) -> ModelCatalog:
        """The served models with their specs, and the default one (``GET /v1/models``)."""
        return self._json(ModelCatalog, "GET", "/v1/models")

    def model(self, name: str) -> ModelDetail:
        """The registered versions of ``name`` (newest first) and its spec."""
        return self._json(ModelDetail, "GET", _model_path(name))

    def promote(self, name: str, version: str, api_key: str) -> Promotion:
        """Serve ``version`` of ``name`` (an older one rolls back); needs the admin key."""
        body = {"version": str(version)}
        path = _model_path(name, "promote")
        return self._json(Promotion, "POST", path, json=body, api_key=api_key)

    # -- rollout ---------------------------------------------------------------------------

    def rollout(self, name: str) -> Rollout:
        """``name``'s rollout: production, candidate, shadowing, pin, probation, the pair's
        live figures and the decision log (``GET /v1/models/{name}/rollout``)."""
        return self._json(Rollout, "GET", _model_path(name, "rollout"))

    def rollout_action(self, name: str, body: dict[str, Any], api_key: str) -> Rollout:
        """Act on ``name``'s rollout (needs the admin key): ``{"action": "shadow", "enabled",
        "share"?}``, ``{"action": "pin", "version"}``, ``{"action": "unpin"}`` or
        ``{"action": "end_probation"}``; answers the new rollout."""
        path = _model_path(name, "rollout")
        return self._json(Rollout, "POST", path, json=body, api_key=api_key)

    # -- prediction and feedback ----------------------------------------------------------

    def predict_instances(self, name: str, rows: Sequence[Sequence[float]]) -> Predictions:
        """Predict rows of numbers with a ``features`` model (``{"instances": rows}``)."""
        body = {"instances": [[float(v) for v in row] for row in rows]}
        return self._predict(name, body)

    def predict_images(self, name: str, images: Sequence[bytes]) -> Predictions:
        """Predict encoded images (PNG, JPEG…), sent as base64 (``{"images": [...]}``)."""
        body = {"images": [base64.b64encode(image).decode("ascii") for image in images]}
        return self._predict(name, body)

    def predict_texts(self, name: str, texts: Sequence[str]) -> Predictions:
        """Predict raw texts with a ``text`` model (``{"texts": [...]}``)."""
        return self._predict(name, {"texts": list(texts)})

    def _predict(self, name: str, body: dict[str, Any]) -> Predictions:
        return self._json(Predictions, "POST", _model_path(name, "predict"), json=body)

    def send_feedback(self, prediction_id: str, label: str | int) -> None:
        """Record the true class (its name, or its index) of the prediction ``prediction_id``."""
        self._call("POST", "/v1/feedback", json={"id": prediction_id, "label": label})

    # -- retraining -------------------------------------------------------------------------

    def start_retrain(self, name: str, reason: str, overrides: Sequence[str], api_key: str) -> str:
        """Queue a retraining job of ``name``; return its id (202; 409 ``not_trainable``)."""
        body = {"reason": reason, "overrides": list(overrides)}
        path = _model_path(name, "retrain")
        return self._json(JobAccepted, "POST", path, json=body, api_key=api_key).job_id

    def job(self, job_id: str) -> JobStatus:
        """State, progress and result of a job (``GET /v1/jobs/{id}``)."""
        return self._json(JobStatus, "GET", f"/v1/jobs/{quote(job_id, safe='')}")

    # -- drift -------------------------------------------------------------------------------

    def drift(self, name: str) -> DriftVerdict:
        """The latest verdict on ``name``'s traffic (404 ``no_verdict`` before the first)."""
        return self._json(DriftVerdict, "GET", _model_path(name, "drift"))

    def drift_report(self, name: str) -> str:
        """The Evidently HTML report of ``name``'s last check."""
        path = _model_path(name, "drift", "report")
        return self._call("GET", path, timeout=self._report_timeout).text

    def run_drift_check(self, name: str, api_key: str) -> DriftVerdict:
        """Check ``name``'s traffic window now and return the verdict (admin: a check costs the
        drift service CPU and may queue a retraining job)."""
        path = _model_path(name, "drift", "check")
        timeout = self._report_timeout
        return self._json(DriftVerdict, "POST", path, api_key=api_key, timeout=timeout)


def _model_path(name: str, *rest: str) -> str:
    """``/v1/models/{name}/...`` with the name escaped."""
    return "/".join(("/v1/models", quote(name, safe=""), *rest))


def _reason(exc: httpx.HTTPError) -> str:
    """The innermost cause's text (``[Errno 111] Connection refused`` → ``Connection refused``)."""
    text = str(exc) or type(exc).__name__
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text
