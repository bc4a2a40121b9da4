"""``GET /v1/models/{name}/rollout`` and ``POST /v1/models/{name}/rollout`` (admin): a model's
safe rollout (shadowing of the staged candidate, pin, probation, decision log) and the admin's
actions on it. The logic is :mod:`mlops_gateway.rollout`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from mlops_gateway.api.deps import AdminDep, RolloutsDep
from mlops_gateway.api.responses import errors
from mlops_gateway.api.routes.models import ModelName
from mlops_gateway.rollout_schemas import RolloutAction, RolloutStatus

router = APIRouter(prefix="/v1/models", tags=["rollout"])


@router.get("/{name}/rollout", response_model=RolloutStatus, responses=errors(404, 503, 504))
async def rollout(name: ModelName, rollouts: RolloutsDep) -> RolloutStatus:
    """``name``'s rollout: production, the candidate (the ``staging`` version when it differs),
    shadowing, the pinned version, probation, both versions' live figures over the newest shadow
    records (with the feedback labels of their prediction ids) and the latest decisions."""
    return await rollouts.status(name)


@router.post(
    "/{name}/rollout",
    response_model=RolloutStatus,
    responses=errors(401, 403, 404, 409, 503, 504),
    dependencies=[AdminDep],
)
async def rollout_action(
    name: ModelName, action: Annotated[RolloutAction, Body()], rollouts: RolloutsDep
) -> RolloutStatus:
    """Act on ``name``'s rollout (admin) and answer the new state; each action is logged.

    ``shadow`` turns shadowing on or off (and sets the share); ``pin`` promotes ``version``
    when it is not production and pins it (no automatic rollback while pinned); ``unpin``;
    ``end_probation`` (409 when no probation is active).
    """
    return await rollouts.act(name, action)
