"""Dependencies as ``Annotated`` aliases, so handlers read ``client: InferenceDep``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from mlops_common.api_keys import API_KEY_HEADER, KeyCheck, check_key
from mlops_gateway.catalog import ModelCatalog
from mlops_gateway.drift import DriftClient
from mlops_gateway.errors import ForbiddenError, UnauthorizedError
from mlops_gateway.feedback import FeedbackStore
from mlops_gateway.inference import InferenceClient
from mlops_gateway.jobs import JobQueue
from mlops_gateway.predictor import Predictor
from mlops_gateway.registry import ModelRegistry
from mlops_gateway.rollout import Rollouts
from mlops_gateway.services import Services
from mlops_gateway.settings import GatewaySettings

_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Admin API key.")


async def get_services(request: Request) -> Services:
    """The clients opened by the lifespan."""
    services: Services = request.app.state.services
    return services


def request_identity(request: Request) -> tuple[str, bool]:
    """The request id set by the request-context middleware, and whether it is unique (the
    middleware made it, not the client)."""
    state = request.scope["state"]
    return str(state["request_id"]), bool(state["request_id_unique"])


async def get_request_id(request: Request) -> str:
    """The request id set by the request-context middleware."""
    return request_identity(request)[0]


ServicesDep = Annotated[Services, Depends(get_services)]
RequestIdDep = Annotated[str, Depends(get_request_id)]


async def _predictor(services: ServicesDep) -> Predictor:
    return services.predictor


async def _inference(services: ServicesDep) -> InferenceClient:
    return services.inference


async def _feedback(services: ServicesDep) -> FeedbackStore:
    return services.feedback


async def _jobs(services: ServicesDep) -> JobQueue:
    return services.jobs


async def _registry(services: ServicesDep) -> ModelRegistry:
    return services.registry


async def _drift(services: ServicesDep) -> DriftClient:
    return services.drift


async def _rollouts(services: ServicesDep) -> Rollouts:
    return services.rollouts


async def _catalog(services: ServicesDep) -> ModelCatalog:
    return services.catalog


async def _settings(services: ServicesDep) -> GatewaySettings:
    return services.settings


async def require_admin(
    services: ServicesDep, api_key: Annotated[str | None, Security(_api_key_header)]
) -> None:
    """Admin routes need a configured key in ``X-API-Key`` (compared in constant time)."""
    checked = check_key(api_key, services.settings.admin_api_keys)
    if checked is KeyCheck.MISSING:
        raise UnauthorizedError("this route needs an admin key in the X-API-Key header")
    if checked is not KeyCheck.OK:
        raise ForbiddenError("the X-API-Key is not an admin key")


PredictorDep = Annotated[Predictor, Depends(_predictor)]
InferenceDep = Annotated[InferenceClient, Depends(_inference)]
FeedbackDep = Annotated[FeedbackStore, Depends(_feedback)]
JobsDep = Annotated[JobQueue, Depends(_jobs)]
RegistryDep = Annotated[ModelRegistry, Depends(_registry)]
DriftDep = Annotated[DriftClient, Depends(_drift)]
CatalogDep = Annotated[ModelCatalog, Depends(_catalog)]
RolloutsDep = Annotated[Rollouts, Depends(_rollouts)]
SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
AdminDep = Depends(require_admin)
