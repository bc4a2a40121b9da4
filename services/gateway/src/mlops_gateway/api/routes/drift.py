"""``GET /v1/drift``, ``GET /v1/drift/report`` and ``POST /v1/drift/check`` (admin): the default
model's; ``/v1/models/{name}/drift…`` call the same functions with a model's name.

The gateway is the one API of the platform: the frontend (and anyone else) reaches the drift
service only through these routes. A check runs Evidently over the whole window (about a second
at 5,000 rows, CPU of the drift service) and may queue a retraining job, so, like
``POST /v1/retrain``, it needs the admin key; the report is built once per check and cached by
the drift service, so reading it is open like the verdict.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Final, TypeVar

import httpx
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError

from mlops_gateway.api.deps import AdminDep, DriftDep
from mlops_gateway.api.responses import errors
from mlops_gateway.drift import DriftClient
from mlops_gateway.errors import DependencyFailedError, DependencyUnavailableError
from mlops_gateway.schemas import DriftCheckResult, DriftStatus

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/drift", tags=["drift"])
M = TypeVar("M", bound=BaseModel)
HTML = "text/html; charset=utf-8"


def _parse(model: type[M], body: dict[str, Any]) -> M:
    return model.model_validate({key: body[key] for key in model.model_fields if key in body})


REPORT_RESPONSE: Final = {
    "content": {"text/html": {"schema": {"type": "string"}}},
    "description": "Evidently's standalone HTML report of the last check.",
}


def _verdict(
    model: type[M],
    body: dict[str, Any],
    error: type[DependencyUnavailableError | DependencyFailedError],
) -> M:
    try:
        return _parse(model, body)
    except ValidationError as exc:
        raise error(
            "drift", f"the drift service sent a malformed verdict: {exc.error_count()} errors"
        ) from exc


async def status_of(client: DriftClient, model: str | None) -> DriftStatus:
    """The drift service's verdict on ``model`` (its default when None); a malformed one is 503
    (as the verdict route has always answered)."""
    return _verdict(DriftStatus, await client.status(model), DependencyUnavailableError)


async def check_of(client: DriftClient, model: str | None) -> DriftCheckResult:
    """Run a check of ``model`` now; a malformed verdict is 502."""
    return _verdict(DriftCheckResult, await client.check(model), DependencyFailedError)


async def report_of(client: DriftClient, model: str | None) -> StreamingResponse:
    """``model``'s report of its last check, streamed."""
    response = await client.open_report(model)
    media_type = response.headers.get("content-type", HTML)
    return StreamingResponse(_relay(response), media_type=media_type)


@router.get("", response_model=DriftStatus, responses=errors(404, 503, 504))
async def drift(client: DriftDep) -> DriftStatus:
    """The drift service's latest verdict with per-feature scores (404 before its first check,
    503 when it is down)."""
    return await status_of(client, None)


@router.post(
    "/check",
    response_model=DriftCheckResult,
    responses=errors(401, 403, 409, 502, 503, 504),
    dependencies=[AdminDep],
)
async def check(client: DriftDep) -> DriftCheckResult:
    """Check the traffic window now (admin): the verdict, and the retraining job it queued.

    409 ``window_too_small`` when the window holds too few rows, 503 ``no_reference`` when no
    production model has a reference sample, 504 when the check outlasts its deadline (it still
    finishes in the drift service).
    """
    return await check_of(client, None)


async def _relay(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except httpx.HTTPError as exc:  # the status is sent: all we can do is cut the answer short
        log.warning("drift report broke off", extra={"detail": str(exc)})
        raise
    finally:
        await response.aclose()


@router.get(
    "/report",
    response_class=StreamingResponse,
    responses={200: REPORT_RESPONSE, **errors(404, 502, 503, 504)},
)
async def report(client: DriftDep) -> StreamingResponse:
    """The Evidently data-drift report of the last check, streamed from the drift service.

    404 ``no_verdict`` before the first check; 503 when the drift service is down; 504 when it
    does not start answering within the report deadline (a first build takes seconds).
    """
    return await report_of(client, None)
