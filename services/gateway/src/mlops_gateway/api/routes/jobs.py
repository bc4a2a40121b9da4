"""``POST /v1/retrain`` (admin) and ``GET /v1/jobs/{job_id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from mlops_gateway.api.deps import AdminDep, JobsDep, SettingsDep
from mlops_gateway.api.responses import errors
from mlops_gateway.schemas import JobAccepted, JobResponse, RetrainRequest

router = APIRouter(tags=["jobs"])


@router.post(
    "/v1/retrain",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses=errors(401, 403, 503),
    dependencies=[AdminDep],
)
async def retrain(
    jobs: JobsDep, settings: SettingsDep, body: RetrainRequest | None = None
) -> JobAccepted:
    """Queue a job retraining the default model (admin)."""
    body = body or RetrainRequest()
    job_id = await jobs.submit_retrain(body.reason, body.overrides, settings.model_name)
    return JobAccepted(job_id=job_id)


@router.get("/v1/jobs/{job_id}", response_model=JobResponse, responses=errors(404, 503))
async def job(
    job_id: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9\-]+$")],
    jobs: JobsDep,
) -> JobResponse:
    """State, progress and result of a job."""
    found = await jobs.status(job_id)
    return JobResponse(
        job_id=found.job_id,
        state=found.state,
        progress=found.progress,
        result=found.result,
        error=found.error,
    )
