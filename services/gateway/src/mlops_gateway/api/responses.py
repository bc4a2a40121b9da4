"""OpenAPI documentation of the error answers each route can give."""

from __future__ import annotations

from typing import Any, Final

from mlops_gateway.schemas import ErrorResponse

_DESCRIPTIONS: Final = {
    400: "Bad input (an undecodable image, a request inference rejects)",
    401: "No admin key in X-API-Key",
    403: "Wrong admin key",
    404: "Not found",
    409: "Not possible now (e.g. the drift window holds too few rows)",
    413: "Body, image, pixel count or text too large, or too many texts",
    415: "Unsupported media type",
    422: "Invalid body: wrong shape, lengths, NaN/inf, values out of range",
    429: "Rate limit exceeded",
    502: "A dependency answered wrongly",
    503: "A dependency (inference, Redis, MLflow, drift, broker) is down or not ready",
    504: "A dependency missed its deadline",
}

#: Answers every route may give (limits are enforced before routing).
COMMON: Final = (413, 422, 429)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the common errors plus ``statuses``, in the one shape."""
    return {
        status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]}
        for status in sorted({*COMMON, *statuses})
    }
