"""``POST /v1/predict`` (instances or base64 images) and ``POST /v1/predict/image`` (multipart)."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, File, UploadFile

from mlops_gateway.api.deps import PredictorDep, RequestIdDep
from mlops_gateway.api.responses import errors
from mlops_gateway.errors import UnsupportedMediaTypeError
from mlops_gateway.schemas import PredictRequest, PredictResponse

router = APIRouter(prefix="/v1/predict", tags=["predict"])

_INFERENCE_ERRORS: Final = (400, 502, 503, 504)
#: Declared types we read as images (browsers send octet-stream for unknown files).
_IMAGE_TYPES: Final = ("image/", "application/octet-stream")


@router.post("", response_model=PredictResponse, responses=errors(*_INFERENCE_ERRORS))
async def predict(
    body: PredictRequest, predictor: PredictorDep, request_id: RequestIdDep
) -> PredictResponse:
    """Predict the digit of each instance (64 numbers in 0..16) or base64 image."""
    if body.instances is not None:
        return await predictor.predict_instances(body.instances, request_id)
    assert body.images is not None
    return await predictor.predict_base64(body.images, request_id)


@router.post("/image", response_model=PredictResponse, responses=errors(415, *_INFERENCE_ERRORS))
async def predict_image(
    file: Annotated[UploadFile, File(description="One image: PNG, JPEG, GIF, BMP, WebP, TIFF")],
    predictor: PredictorDep,
    request_id: RequestIdDep,
) -> PredictResponse:
    """Predict the digit in one uploaded image."""
    content_type = (file.content_type or "application/octet-stream").lower()
    if not content_type.startswith(_IMAGE_TYPES):
        raise UnsupportedMediaTypeError(
            f"upload has content type {content_type!r}; send an image (image/png, image/jpeg…)"
        )
    data = await file.read()
    return await predictor.predict_images([data], request_id)
