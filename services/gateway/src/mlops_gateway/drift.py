"""Client of the drift service: its verdict, a check on request, and its Evidently report.

Failures become the gateway's errors: unreachable → 503 ``drift_unavailable``, too slow → 504
``deadline_exceeded``; the drift service's own answers 404 (no verdict yet), 409 (window too
small), 422 and 503 (no reference) are relayed with their status, code and message; a refused
key (401/403: ``GATEWAY_DRIFT_API_KEY`` is not one of drift's ``DRIFT_ADMIN_API_KEYS``) is a 502
``drift_failed`` that says so, as is anything else it answers.
"""

from __future__ import annotations

from typing import Any, Final

import httpx
from pydantic import SecretStr

from mlops_common.api_keys import API_KEY_HEADER
from mlops_gateway.errors import (
    DeadlineExceededError,
    DependencyFailedError,
    DependencyUnavailableError,
    GatewayError,
    NotFoundError,
    RelayedError,
)

DRIFT_STATUS_PATH: Final = "/v1/drift/status"
DRIFT_CHECK_PATH: Final = "/v1/drift/check"
DRIFT_REPORT_PATH: Final = "/v1/drift/report"
#: Error answers of the drift service passed on with their own status, code and message.
RELAYED_STATUSES: Final = frozenset({404, 409, 422, 503})
_DEFAULT_CODES: Final = {404: "not_found", 409: "conflict", 422: "invalid_input"}


def _error_fields(response: httpx.Response) -> tuple[str | None, str]:
    """``(code, message)`` of an error answer in the platform's shape (or its text)."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text.strip()[:300] or response.reason_phrase
    detail = body.get("error") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        code = detail.get("code")
        return (str(code) if code else None), str(detail.get("message") or "")
    return None, str(body)[:300]


def relayed_error(response: httpx.Response) -> GatewayError:
    """The gateway error for a non-2xx answer of the drift service (its body already read)."""
    status = response.status_code
    code, message = _error_fields(response)
    message = message or f"the drift service answered {status}"
    if status in RELAYED_STATUSES:
        if status == 503:
            retry = response.headers.get("retry-after")
            return RelayedError(
                503,
                code or "drift_unavailable",
                message,
                headers={"Retry-After": retry} if retry else None,
            )
        return RelayedError(status, code or _DEFAULT_CODES[status], message)
    return DependencyFailedError("drift", f"the drift service answered {status}: {message}")


def _model(model: str | None) -> dict[str, str]:
    return {"model": model} if model is not None else {}


class DriftClient:
    """Calls the drift service's ``/v1/drift/*`` routes."""

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 2.0,
        *,
        check_timeout_s: float = 30.0,
        report_timeout_s: float = 50.0,
        api_key: SecretStr | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        key = api_key.get_secret_value() if api_key is not None else ""
        self._key_headers = {API_KEY_HEADER: key} if key else {}
        self._check_timeout = httpx.Timeout(check_timeout_s, connect=timeout_s)
        self._report_timeout = httpx.Timeout(report_timeout_s, connect=timeout_s)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            return await self._http.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise DeadlineExceededError("the drift service did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise DependencyUnavailableError(
                "drift", f"the drift service is unreachable at {self._http.base_url}: {exc}"
            ) from exc

    @staticmethod
    def _json_object(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise DependencyFailedError("drift", "the drift service sent no JSON") from exc
        if not isinstance(body, dict):
            raise DependencyFailedError("drift", "the drift service sent no JSON object")
        return body

    async def status(self, model: str | None = None) -> dict[str, Any]:
        """The drift service's latest verdict on ``model`` (its default when None) as JSON
        (404 before its first check)."""
        request = self._http.build_request("GET", DRIFT_STATUS_PATH, params=_model(model))
        response = await self._send(request)
        if response.status_code == 404:
            _, message = _error_fields(response)
            raise NotFoundError(message or "the drift service has no verdict yet")
        if response.status_code != 200:
            raise DependencyUnavailableError(
                "drift", f"the drift service answered {response.status_code}"
            )
        try:
            return self._json_object(response)
        except DependencyFailedError as exc:  # the verdict route has always said 503 here
            raise DependencyUnavailableError("drift", exc.message) from exc

    async def check(self, model: str | None = None) -> dict[str, Any]:
        """Run a check of ``model`` now: the verdict plus ``retrain_job_id``."""
        request = self._http.build_request(
            "POST",
            DRIFT_CHECK_PATH,
            params=_model(model),
            headers=self._key_headers,
            timeout=self._check_timeout,
        )
        response = await self._send(request)
        if response.status_code in (401, 403):
            raise DependencyFailedError(
                "drift",
                f"the drift service refused the gateway's key ({response.status_code}): set "
                "GATEWAY_DRIFT_API_KEY to one of drift's DRIFT_ADMIN_API_KEYS",
            )
        if response.status_code != 200:
            raise relayed_error(response)
        return self._json_object(response)

    async def open_report(self, model: str | None = None) -> httpx.Response:
        """Start fetching the Evidently HTML report; the caller streams the body and closes it.

        The drift service builds the report before it sends a byte (seconds after a new
        check), so the report deadline covers the wait for the first byte.
        """
        request = self._http.build_request(
            "GET", DRIFT_REPORT_PATH, params=_model(model), timeout=self._report_timeout
        )
        response = await self._send(request, stream=True)
        if response.status_code == 200:
            return response
        try:
            await response.aread()
        except httpx.HTTPError as exc:
            raise DependencyUnavailableError(
                "drift", f"the drift service's answer broke off: {exc}"
            ) from exc
        finally:
            await response.aclose()
        raise relayed_error(response)
