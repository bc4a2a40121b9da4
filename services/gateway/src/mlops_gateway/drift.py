"""Client of the drift service: the latest verdict, with a clear 503 when it is down."""

from __future__ import annotations

from typing import Any

import httpx

from mlops_gateway.errors import (
    DeadlineExceededError,
    DependencyUnavailableError,
    NotFoundError,
)

DRIFT_STATUS_PATH = "/v1/drift/status"


class DriftClient:
    """Reads ``GET /v1/drift/status`` of the drift service."""

    def __init__(self, base_url: str, timeout_s: float = 2.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def status(self) -> dict[str, Any]:
        """The drift service's latest verdict as JSON."""
        try:
            response = await self._http.get(DRIFT_STATUS_PATH)
        except httpx.TimeoutException as exc:
            raise DeadlineExceededError("the drift service did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise DependencyUnavailableError(
                "drift", f"the drift service is unreachable at {self._http.base_url}: {exc}"
            ) from exc
        if response.status_code == 404:
            raise NotFoundError("the drift service has no verdict yet")
        if response.status_code != 200:
            raise DependencyUnavailableError(
                "drift", f"the drift service answered {response.status_code}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise DependencyUnavailableError("drift", "the drift service sent no JSON") from exc
        if not isinstance(body, dict):
            raise DependencyUnavailableError("drift", "the drift service sent no JSON object")
        return body
