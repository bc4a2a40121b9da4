"""``POST /v1/feedback``: the true label of an earlier prediction."""

from __future__ import annotations

from fastapi import APIRouter

from mlops_gateway.api.deps import FeedbackDep
from mlops_gateway.api.responses import errors
from mlops_gateway.schemas import FeedbackRequest, FeedbackResponse

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])


@router.post("", response_model=FeedbackResponse, responses=errors(404, 422, 503))
async def feedback(body: FeedbackRequest, store: FeedbackDep) -> FeedbackResponse:
    """Store the true label of the prediction ``id``: a class index or a class name of the model
    that answered (404 when the id is unknown, 422 when the label is not one of its classes)."""
    prediction_id, label, model = await store.record(body.id, body.label)
    return FeedbackResponse(id=prediction_id, label=label, model=model)
