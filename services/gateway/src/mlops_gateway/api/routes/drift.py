"""``GET /v1/drift``: the latest verdict of the drift service."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import ValidationError

from mlops_gateway.api.deps import DriftDep
from mlops_gateway.api.responses import errors
from mlops_gateway.errors import DependencyUnavailableError
from mlops_gateway.schemas import DriftStatus

router = APIRouter(prefix="/v1/drift", tags=["drift"])


@router.get("", response_model=DriftStatus, responses=errors(404, 503, 504))
async def drift(client: DriftDep) -> DriftStatus:
    """The drift service's latest verdict (503 when it is down)."""
    body = await client.status()
    try:
        return DriftStatus.model_validate(
            {key: body[key] for key in DriftStatus.model_fields if key in body}
        )
    except ValidationError as exc:
        raise DependencyUnavailableError(
            "drift", f"the drift service sent a malformed verdict: {exc.error_count()} errors"
        ) from exc
