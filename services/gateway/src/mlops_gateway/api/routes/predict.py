"""``POST /v1/predict`` (instances or base64 images) and ``POST /v1/predict/image`` (multipart)
for the default model, and the body handling ``POST /v1/models/{name}/predict`` shares.

Prediction is the hot route, so it reads its body itself: orjson, then one numpy check of the
common case (only ``instances``, every vector as wide as the served spec says, finite, in its
range). Anything else (images, texts, or a body that fails that check) goes through the
:class:`PredictRequest` model, whose schema the OpenAPI document shows, and then the spec's
checks, whose messages say what to fix. Answers are rendered straight to JSON bytes;
``response_model`` only documents them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final

import numpy as np
import orjson
from fastapi import APIRouter, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from numpy.typing import NDArray
from pydantic import ValidationError

from mlops_gateway.api.deps import PredictorDep, request_identity
from mlops_gateway.api.responses import errors
from mlops_gateway.catalog import ServedModel
from mlops_gateway.errors import UnsupportedMediaTypeError
from mlops_gateway.predictor import PredictionResult, Predictor
from mlops_gateway.schemas import PredictRequest, PredictResponse

router = APIRouter(prefix="/v1/predict", tags=["predict"])

INFERENCE_ERRORS: Final = (400, 404, 502, 503, 504)
#: Declared types we read as images (browsers send octet-stream for unknown files).
_IMAGE_TYPES: Final = ("image/", "application/octet-stream")
JSON_BODY: Final = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
    }
}


def fast_instances(
    body: bytes, width: int | None, value_range: tuple[float, float] | None
) -> NDArray[np.float32] | None:
    """The ``[n, width]`` features of a plain ``{"instances": [...]}`` body that is surely valid.

    ``None`` means "not sure": the caller validates the body with the full model instead.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or len(data) != 1:
        return None
    instances = data.get("instances")
    if type(instances) is not list or not instances:
        return None
    try:
        array = np.array(instances, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    if array.ndim != 2 or array.shape[1] != width or not np.isfinite(array).all():
        return None
    if value_range is not None and (array.min() < value_range[0] or array.max() > value_range[1]):
        return None
    return array


def parse_body(body: bytes) -> PredictRequest:
    """Validate ``body`` with :class:`PredictRequest`; errors as FastAPI would report them."""
    try:
        data: Any = json.loads(body)  # like FastAPI: NaN/Infinity parse, then fail validation
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", position),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": str(exc)},
                }
            ]
        ) from None
    try:
        return PredictRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)],
            body=data,
        ) from None


def _json(result: PredictionResult) -> Response:
    return Response(result.to_json(), media_type="application/json")


async def predict_body(
    request: Request, predictor: Predictor, model: ServedModel
) -> PredictionResult:
    """Predict what a JSON prediction body holds, for ``model``."""
    body = await request.body()
    request_id, unique = request_identity(request)
    assert model.spec is not None  # nosec B101: the catalog returns only models with a spec; narrows the type for mypy
    if len(body) and model.spec.input.kind != "text":
        features = fast_instances(body, model.spec.input.width, model.spec.input.range)
        if features is not None and len(features) <= predictor.max_instances:
            return await predictor.predict_checked(
                model, features, request_id, request_id_unique=unique
            )
    parsed = parse_body(body)
    if parsed.texts is not None:
        return await predictor.predict_texts(
            model, parsed.texts, request_id, request_id_unique=unique
        )
    if parsed.instances is not None:
        return await predictor.predict_instances(
            model, parsed.instances, request_id, request_id_unique=unique
        )
    assert parsed.images is not None  # nosec B101: PredictRequest holds exactly one input kind; narrows the type for mypy
    return await predictor.predict_base64(
        model, parsed.images, request_id, request_id_unique=unique
    )


async def predict_response(request: Request, predictor: Predictor, name: str | None) -> Response:
    """The answer to a JSON prediction body for the model ``name`` (its class names as labels),
    or for the default model when ``name`` is None (class indexes, as the first wave's route)."""
    catalog = predictor.catalog
    model = await catalog.resolve(catalog.default if name is None else name)
    result = await predict_body(request, predictor, model)
    return Response(result.to_json(class_names=name is not None), media_type="application/json")


@router.post(
    "",
    response_model=PredictResponse,
    responses=errors(*INFERENCE_ERRORS),
    openapi_extra=JSON_BODY,
)
async def predict(request: Request, predictor: PredictorDep) -> Response:
    """Predict the default model's class of each instance or base64 image (the digits model:
    64 numbers in 0..16 each)."""
    return await predict_response(request, predictor, None)


@router.post("/image", response_model=PredictResponse, responses=errors(415, *INFERENCE_ERRORS))
async def predict_image(
    request: Request,
    file: Annotated[UploadFile, File(description="One image: PNG, JPEG, GIF, BMP, WebP, TIFF")],
    predictor: PredictorDep,
) -> Response:
    """Predict the digit in one uploaded image."""
    content_type = (file.content_type or "application/octet-stream").lower()
    if not content_type.startswith(_IMAGE_TYPES):
        raise UnsupportedMediaTypeError(
            f"upload has content type {content_type!r}; send an image (image/png, image/jpeg…)"
        )
    model = await predictor.catalog.resolve(predictor.catalog.default)
    data = await file.read()
    request_id, unique = request_identity(request)
    return _json(
        await predictor.predict_images(model, [data], request_id, request_id_unique=unique)
    )
