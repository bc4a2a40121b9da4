"""``/v1/models``: the served models and, per model, prediction, versions, promotion, retraining
and drift.

Every route names its model; the body of a prediction is checked against the served version's
spec (read by the catalog when the version was loaded, never per request) and the answer labels
are the spec's class names. The first wave's single-model routes (``/v1/predict``,
``/v1/model``, ``/v1/drift``…) stay as the default model's.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Final

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import Response, StreamingResponse

from mlops_common.registry import ALIAS_PRODUCTION
from mlops_gateway.api.deps import (
    AdminDep,
    CatalogDep,
    DriftDep,
    JobsDep,
    PredictorDep,
    RegistryDep,
)
from mlops_gateway.api.responses import errors
from mlops_gateway.api.routes import drift as drift_routes
from mlops_gateway.api.routes.predict import INFERENCE_ERRORS, JSON_BODY, predict_response
from mlops_gateway.catalog import ServedModel
from mlops_gateway.errors import ConflictError, ModelNotServedError, NotFoundError
from mlops_gateway.schemas import (
    DriftCheckResult,
    DriftStatus,
    JobAccepted,
    ModelDetail,
    ModelInfo,
    NamedPredictResponse,
    PromoteRequest,
    PromoteResponse,
    RetrainRequest,
    ServedModelOut,
    ServedModels,
)

router = APIRouter(prefix="/v1/models", tags=["models"])

MODEL_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN, description="A served model.")]


def _served_out(model: ServedModel) -> ServedModelOut:
    spec = model.spec
    return ServedModelOut(
        name=model.name,
        version=model.version or None,
        ready=model.ready and spec is not None,
        reason=model.reason,
        spec=spec.model_dump(mode="json", exclude_none=True) if spec is not None else None,
        trainable=bool(spec is not None and spec.trainable),
    )


@router.get("", response_model=ServedModels, responses=errors(503))
async def served_models(catalog: CatalogDep) -> ServedModels:
    """The models inference serves, each with its version, readiness and spec."""
    return ServedModels(default=catalog.default, models=[_served_out(m) for m in catalog.models])


@router.get("/{name}", response_model=ModelDetail, responses=errors(404, 503))
async def model_detail(name: ModelName, registry: RegistryDep, catalog: CatalogDep) -> ModelDetail:
    """A model's registered versions (newest first) and its served spec; 404 when it is
    neither registered nor served."""
    served = next((m for m in catalog.models if m.name == name), None)
    try:
        versions = await registry.versions(name)
    except NotFoundError:
        versions = []
    if not versions and served is None:
        raise ModelNotServedError(f"model {name!r} is neither registered nor served")
    out = _served_out(served) if served is not None else None
    return ModelDetail(
        name=name,
        versions=[ModelInfo(**asdict(v)) for v in versions],
        spec=out.spec if out is not None else None,
        trainable=out.trainable if out is not None else False,
    )


@router.post(
    "/{name}/predict",
    response_model=NamedPredictResponse,
    responses=errors(*INFERENCE_ERRORS),
    openapi_extra=JSON_BODY,
)
async def predict(name: ModelName, request: Request, predictor: PredictorDep) -> Response:
    """Predict each instance with the model ``name``; labels are its class names.

    The body is what the model's input kind takes: ``{"instances": [[numbers]]}`` for a
    features model (its width and range from the spec, 422 otherwise), ``{"images":
    [base64]}`` for a model whose preprocessing reads images (digits), or ``{"texts":
    ["..."]}`` for a text model (one string per instance; 413 for more texts than
    ``GATEWAY_MAX_INSTANCES`` or a text longer than ``GATEWAY_MAX_TEXT_CHARS``).
    """
    return await predict_response(request, predictor, name)


@router.post(
    "/{name}/promote",
    response_model=PromoteResponse,
    responses=errors(401, 403, 404, 503),
    dependencies=[AdminDep],
)
async def promote(name: ModelName, body: PromoteRequest, registry: RegistryDep) -> PromoteResponse:
    """Serve ``version`` of ``name`` (admin): move its ``production`` alias; an older version
    rolls back."""
    promoted, previous, published = await registry.promote(body.version, name)
    return PromoteResponse(
        name=promoted.name,
        version=promoted.version,
        previous_version=previous,
        alias=ALIAS_PRODUCTION,
        event_published=published,
    )


@router.post(
    "/{name}/retrain",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses=errors(401, 403, 404, 409, 503),
    dependencies=[AdminDep],
)
async def retrain(
    name: ModelName, jobs: JobsDep, catalog: CatalogDep, body: RetrainRequest | None = None
) -> JobAccepted:
    """Queue a job retraining ``name`` (admin); 409 when its spec says it is not trainable (an
    imported model has no training recipe)."""
    model = await catalog.resolve(name)
    assert model.spec is not None  # nosec B101: catalog.resolve() returns only models with a spec; narrows the type for mypy
    if not model.spec.trainable:
        raise ConflictError(
            f"model {name!r} is not trainable: it was imported (task {model.spec.task!r}) and "
            "this platform has no training recipe for it; register a new version with "
            "`mlops-train import` instead",
            code="not_trainable",
        )
    body = body or RetrainRequest()
    return JobAccepted(job_id=await jobs.submit_retrain(body.reason, body.overrides, name))


@router.get("/{name}/drift", response_model=DriftStatus, responses=errors(404, 503, 504))
async def drift(name: ModelName, client: DriftDep) -> DriftStatus:
    """The drift service's latest verdict on ``name`` (404 before its first check)."""
    return await drift_routes.status_of(client, name)


@router.post(
    "/{name}/drift/check",
    response_model=DriftCheckResult,
    responses=errors(401, 403, 404, 409, 502, 503, 504),
    dependencies=[AdminDep],
)
async def drift_check(name: ModelName, client: DriftDep) -> DriftCheckResult:
    """Check ``name``'s traffic window now (admin): the verdict and the job it queued."""
    return await drift_routes.check_of(client, name)


@router.get(
    "/{name}/drift/report",
    response_class=StreamingResponse,
    responses={200: drift_routes.REPORT_RESPONSE, **errors(404, 502, 503, 504)},
)
async def drift_report(name: ModelName, client: DriftDep) -> StreamingResponse:
    """The Evidently report of ``name``'s last check, streamed from the drift service."""
    return await drift_routes.report_of(client, name)
