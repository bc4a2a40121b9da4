"""Request and response bodies of the product API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

Feature = Annotated[float, Field(allow_inf_nan=False)]
FeatureVector = Annotated[list[Feature], Field(min_length=1)]
ClassName = Annotated[str, Field(min_length=1, max_length=200)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]


class ErrorDetail(BaseModel):
    """What went wrong, with a stable code."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """The one error shape."""

    error: ErrorDetail


class PredictRequest(BaseModel):
    """One of ``instances`` (vectors of numbers: their width and range are the served model's,
    see ``GET /v1/models``; the digits model takes 8×8 grids as 64 numbers in 0..16),
    ``images`` (base64, for a model whose preprocessing reads images, like digits) or
    ``texts`` (one string per instance, for a model whose input kind is ``text``, like
    ``news-classifier``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"instances": [[0.0] * 64]}]},
    )

    instances: Annotated[list[FeatureVector], Field(min_length=1)] | None = None
    images: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | None = None
    texts: Annotated[list[StrictStr], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PredictRequest:
        given = [self.instances, self.images, self.texts]
        if sum(value is not None for value in given) != 1:
            raise ValueError("send exactly one of 'instances', 'images' or 'texts'")
        return self


class ModelRef(BaseModel):
    """The model that answered."""

    name: str
    version: str


class PredictionOut(BaseModel):
    """One predicted instance; ``id`` names it for feedback."""

    id: str
    label: int = Field(ge=0, description="The predicted class's index.")
    confidence: float = Field(ge=0, le=1)
    probabilities: list[float] = Field(min_length=2, description="One per class, in order.")


class PredictResponse(BaseModel):
    """The answer of a prediction request."""

    request_id: str
    model: ModelRef
    predictions: list[PredictionOut]


class NamedPredictionOut(BaseModel):
    """One predicted instance of a named model; ``id`` names it for feedback."""

    id: str
    label: str = Field(description="The predicted class's name (the spec's `output.classes`).")
    class_index: int = Field(ge=0)
    confidence: float = Field(ge=0, le=1)
    probabilities: list[float] = Field(min_length=2, description="One per class, in order.")


class NamedPredictResponse(BaseModel):
    """The answer of ``POST /v1/models/{name}/predict``: labels are class names."""

    request_id: str
    model: ModelRef
    predictions: list[NamedPredictionOut]


class FeedbackRequest(BaseModel):
    """The true label of an earlier prediction (its ``id``, or a one-instance ``request_id``):
    a class index, or a class name of the model that answered."""

    model_config = ConfigDict(extra="forbid")

    id: Identifier
    label: Annotated[int, Field(ge=0)] | ClassName


class FeedbackResponse(BaseModel):
    """Feedback stored for the prediction ``id``: the class index, and the model that answered."""

    id: str
    label: int
    model: str | None = None


class RetrainRequest(BaseModel):
    """Why retraining is asked for, and Hydra overrides for the trainer."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="manual", min_length=1, max_length=200)
    overrides: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20
    )


class JobAccepted(BaseModel):
    """A queued job."""

    job_id: str


class JobResponse(BaseModel):
    """State of a job: ``PENDING``, ``STARTED``, ``PROGRESS``, ``SUCCESS``, ``FAILURE``…"""

    job_id: str
    state: str
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class ModelInfo(BaseModel):
    """A registered version of the model."""

    name: str
    version: str
    aliases: list[str] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    created_at: str | None = None
    run_id: str | None = None


class ModelList(BaseModel):
    """Registered versions, newest first."""

    name: str
    versions: list[ModelInfo]


class ModelDetail(ModelList):
    """A model's registered versions (newest first) and, when served, its served version's spec."""

    spec: dict[str, Any] | None = Field(
        default=None, description="The served version's model spec; null when not served."
    )
    trainable: bool = Field(
        default=False, description="Whether `POST /v1/models/{name}/retrain` can train it."
    )


class ServedModelOut(BaseModel):
    """A model inference serves, with its served version's spec."""

    name: str
    version: str | None = None
    ready: bool
    reason: str | None = Field(default=None, description="Why it is not ready, if it is not.")
    spec: dict[str, Any] | None = Field(
        default=None, description='The model spec (see docs/contracts.md, "Model spec").'
    )
    trainable: bool = False


class ServedModels(BaseModel):
    """Every served model, in the order inference serves them, and the default one."""

    default: str = Field(description="The model of `/v1/predict` and the other first-wave routes.")
    models: list[ServedModelOut]


class PromoteRequest(BaseModel):
    """The version to serve (an older one rolls back)."""

    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[0-9]+$")]


class PromoteResponse(BaseModel):
    """The result of a promotion."""

    name: str
    version: str
    previous_version: str | None
    alias: str
    event_published: bool


class FeatureTest(BaseModel):
    """How the per-feature scores read: the test, its threshold, and its direction."""

    method: str = Field(description="Evidently's stat test, e.g. `ks`.", examples=["ks"])
    name: str = Field(description="Evidently's name of the test.", examples=["K-S p_value"])
    threshold: float = Field(description="Per-feature threshold.", examples=[0.001])
    score_is_p_value: bool = Field(
        description="True: a score is a p-value and drift is below the threshold; "
        "false: a distance, drift at or above it."
    )


class DriftStatus(BaseModel):
    """The drift service's latest verdict on a model, with the test of each feature."""

    model: str | None = Field(default=None, description="The model the verdict is about.")
    drift_detected: bool | None = None
    drifted_share: float | None = Field(
        default=None, description="Share of the monitored input columns whose test found drift."
    )
    window_size: int | None = None
    checked_at: str | float | None = Field(
        default=None, description="When the check ran (Unix seconds or ISO 8601)."
    )
    reasons: list[str] = Field(default_factory=list)
    feature_scores: dict[str, float] = Field(
        default_factory=dict,
        description="Score of each monitored column's drift test (the spec's `monitored` "
        "names; digits: `pixel_0_0`…`pixel_7_7`): a p-value for the default K-S test (see "
        "`feature_test`).",
        examples=[{"pixel_0_0": 0.83, "pixel_3_4": 1.2e-09}],
    )
    drifted_features: list[str] = Field(
        default_factory=list,
        description="The features whose test found drift.",
        examples=[["pixel_3_4"]],
    )
    feature_test: FeatureTest | None = None
    estimated_accuracy: float | None = Field(
        default=None,
        description="Label-free accuracy estimate of the window (CBPE: its mean calibrated "
        "confidence); null when the traffic logs no confidence.",
    )
    reference_estimated_accuracy: float | None = Field(
        default=None, description="The same estimate over the reference rows: the baseline."
    )
    estimated_accuracy_drop: float | None = Field(
        default=None, description="Baseline − window estimate (positive: estimated worse now)."
    )
    calibrated: bool | None = Field(
        default=None,
        description="Whether the estimate used the version's calibration (false: raw "
        "confidences, e.g. an imported model).",
    )


class DriftCheckResult(DriftStatus):
    """The verdict of a check run on request, and the retraining job it queued, if any."""

    retrain_job_id: str | None = Field(
        default=None, description="Job queued on drift; null when none (or in the cool-down)."
    )


class HealthResponse(BaseModel):
    """A probe's answer."""

    status: str
