"""Open Inference Protocol REST routes, passed through to the inference service over gRPC."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_gateway.api.deps import InferenceDep, RequestIdDep
from mlops_gateway.api.responses import errors
from mlops_gateway.errors import DependencyUnavailableError
from mlops_gateway.tensors import outputs_to_json, to_raw

router = APIRouter(prefix="/v2", tags=["open inference protocol"])

ModelName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._\-]+$")]
_DOWN: Final = (503, 504)


class LiveResponse(BaseModel):
    """Server liveness."""

    live: bool


class ReadyResponse(BaseModel):
    """Server readiness."""

    ready: bool


class ModelReadyResponse(BaseModel):
    """Model readiness."""

    name: str
    ready: bool


class TensorMetadata(BaseModel):
    """Name, datatype and shape of a tensor (-1 = any size)."""

    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    """What the model takes and gives."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class InputTensor(BaseModel):
    """A JSON input tensor: ``data`` flat or nested, row-major."""

    name: str = Field(min_length=1)
    shape: list[Annotated[int, Field(ge=0, le=2**31 - 1)]] = Field(max_length=8)
    datatype: str
    data: list[Any]


class RequestedOutput(BaseModel):
    """An output to return."""

    name: str = Field(min_length=1)


class InferenceRequest(BaseModel):
    """An OIP inference request with JSON tensors."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, max_length=128)
    inputs: list[InputTensor] = Field(min_length=1, max_length=16)
    outputs: list[RequestedOutput] | None = Field(default=None, max_length=16)


class OutputTensor(BaseModel):
    """A JSON output tensor, ``data`` flat and row-major."""

    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferenceResponse(BaseModel):
    """An OIP inference response."""

    model_name: str
    model_version: str
    id: str
    outputs: list[OutputTensor]


@router.get("/health/live", response_model=LiveResponse, responses=errors(*_DOWN))
async def server_live(inference: InferenceDep) -> LiveResponse:
    """Inference server liveness."""
    return LiveResponse(live=await inference.server_live())


@router.get("/health/ready", response_model=ReadyResponse, responses=errors(*_DOWN))
async def server_ready(inference: InferenceDep) -> ReadyResponse:
    """Inference server readiness (503 when not ready)."""
    if not await inference.server_ready():
        raise DependencyUnavailableError("inference", "the inference server is not ready")
    return ReadyResponse(ready=True)


@router.get("/models/{name}", response_model=ModelMetadata, responses=errors(404, *_DOWN))
async def model_metadata(name: ModelName, inference: InferenceDep) -> ModelMetadata:
    """Model metadata."""
    meta = await inference.model_metadata(name)
    return ModelMetadata(
        name=meta.name,
        versions=list(meta.versions),
        platform=meta.platform,
        inputs=[
            TensorMetadata(name=t.name, datatype=t.datatype, shape=list(t.shape))
            for t in meta.inputs
        ],
        outputs=[
            TensorMetadata(name=t.name, datatype=t.datatype, shape=list(t.shape))
            for t in meta.outputs
        ],
    )


@router.get(
    "/models/{name}/ready", response_model=ModelReadyResponse, responses=errors(404, *_DOWN)
)
async def model_ready(name: ModelName, inference: InferenceDep) -> ModelReadyResponse:
    """Model readiness."""
    return ModelReadyResponse(name=name, ready=await inference.model_ready(name))


@router.post(
    "/models/{name}/infer",
    response_model=InferenceResponse,
    responses=errors(400, 404, 502, *_DOWN),
)
async def model_infer(
    name: ModelName, body: InferenceRequest, inference: InferenceDep, request_id: RequestIdDep
) -> InferenceResponse:
    """Run the model on JSON tensors."""
    request = pb.ModelInferRequest(
        model_name=name,
        id=body.id or request_id,
        inputs=[
            pb.ModelInferRequest.InferInputTensor(name=t.name, datatype=t.datatype, shape=t.shape)
            for t in body.inputs
        ],
        outputs=[
            pb.ModelInferRequest.InferRequestedOutputTensor(name=o.name) for o in body.outputs or []
        ],
        raw_input_contents=[to_raw(t.name, t.datatype, t.shape, t.data) for t in body.inputs],
    )
    response = await inference.model_infer(request, request_id)
    return InferenceResponse(
        model_name=response.model_name,
        model_version=response.model_version,
        id=response.id,
        outputs=[OutputTensor(**output) for output in outputs_to_json(response)],
    )
