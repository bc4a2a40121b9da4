"""``GET /v1/model`` and ``POST /v1/model/promote`` (admin): the default model's (see
:mod:`.models` for every model's routes)."""

from __future__ import annotations

import contextlib
from dataclasses import asdict

from fastapi import APIRouter

from mlops_common.registry import ALIAS_PRODUCTION
from mlops_gateway.api.deps import AdminDep, InferenceDep, RegistryDep
from mlops_gateway.api.responses import errors
from mlops_gateway.errors import GatewayError, NotFoundError
from mlops_gateway.schemas import ModelInfo, PromoteRequest, PromoteResponse

router = APIRouter(tags=["model"])


@router.get("/v1/model", response_model=ModelInfo, responses=errors(404, 503))
async def serving_model(registry: RegistryDep, inference: InferenceDep) -> ModelInfo:
    """The model inference serves now, with its metrics from the registry.

    The version comes from the inference service; when it is down, or serves a file that is
    not registered, the registry's ``production`` alias answers.
    """
    served: str | None = None
    with contextlib.suppress(GatewayError):
        metadata = await inference.model_metadata(inference.model_name)
        served = metadata.versions[0] if metadata.versions else None
    if served and served.isdigit():
        with contextlib.suppress(NotFoundError):
            return ModelInfo(**asdict(await registry.version(served)))
    try:
        return ModelInfo(**asdict(await registry.production()))
    except NotFoundError:
        if served:
            return ModelInfo(name=inference.model_name, version=served)
        raise NotFoundError(
            f"no model is served and {registry.model_name!r} has no {ALIAS_PRODUCTION!r} alias"
        ) from None


@router.post(
    "/v1/model/promote",
    response_model=PromoteResponse,
    responses=errors(401, 403, 404, 503),
    dependencies=[AdminDep],
)
async def promote(body: PromoteRequest, registry: RegistryDep) -> PromoteResponse:
    """Serve ``version`` (admin): move the ``production`` alias; an older version rolls back."""
    promoted, previous, published = await registry.promote(body.version)
    return PromoteResponse(
        name=promoted.name,
        version=promoted.version,
        previous_version=previous,
        alias=ALIAS_PRODUCTION,
        event_published=published,
    )
