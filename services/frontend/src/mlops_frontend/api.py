"""Typed views of the gateway's JSON answers: pydantic models of what the pages read.

:func:`parse` raises :class:`MalformedAnswerError` when a field the pages need is missing or has
the wrong type, so that a gateway speaking another version of the API shows up as a clear message
instead of a ``KeyError`` deep inside a page. A null field reads as an absent one; a number where
text is expected (a version) reads as text; maps of numbers keep only their numeric entries.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from mlops_common.model_spec import ModelSpec

#: Job states after which nothing changes any more (Celery's ready states).
FINISHED_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


class MalformedAnswerError(ValueError):
    """The gateway answered 2xx with a body that does not follow the API."""


class Answer(BaseModel):
    """Base of the gateway's answers: immutable, extra fields ignored."""

    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        """A null field reads as an absent one, so its default applies."""
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


AnswerT = TypeVar("AnswerT", bound=Answer)


def parse(kind: type[AnswerT], body: Any) -> AnswerT:
    """Read the decoded JSON ``body`` as ``kind``; :class:`MalformedAnswerError` if it is not."""
    try:
        return kind.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'the body'}: {error['msg']}"
            for error in exc.errors()
        )
        raise MalformedAnswerError(f"the {kind.__name__} answer is invalid: {problems}") from exc


def _numeric(raw: Any) -> Any:
    """The numeric entries of a map (a metric or score that is text or a flag is left out)."""
    if not isinstance(raw, dict):
        return raw
    return {k: v for k, v in raw.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _fraction(value: float) -> float | None:
    """Progress as 0..1 (a percentage above 1 is scaled down); None when not finite."""
    if not math.isfinite(value):
        return None
    return min(max(value / 100.0 if value > 1 else value, 0.0), 1.0)


Numbers = Annotated[dict[str, float], BeforeValidator(_numeric)]


def _progress(key: str) -> Any:
    """A field read from a job's ``progress`` meta (None when absent)."""
    return Field(default=None, validation_alias=AliasPath("progress", key))


class PredictedInstance(Answer):
    """One predicted instance: its id (for feedback), the class name, the class index, the
    confidence and the probability of each class in the spec's class order."""

    id: str
    #: The class name (``output.classes[class_index]``); a number on the wire reads as text.
    label: str
    class_index: StrictInt | None = None
    confidence: StrictFloat
    probabilities: tuple[StrictFloat, ...]

    @model_validator(mode="after")
    def _index_from_label(self) -> PredictedInstance:
        """An answer without ``class_index`` (the first wave's digits) names it by its label."""
        if self.class_index is None and self.label.isdigit():
            object.__setattr__(self, "class_index", int(self.label))
        return self


class Predictions(Answer):
    """``POST /v1/models/{name}/predict``: one prediction per instance, in request order, with
    the model (name and version) that answered."""

    request_id: str = ""
    predictions: tuple[PredictedInstance, ...] = Field(min_length=1)
    model_name: str = Field(validation_alias=AliasPath("model", "name"))
    model_version: str = Field(validation_alias=AliasPath("model", "version"))

    @property
    def first(self) -> PredictedInstance:
        """The first instance's prediction (the one of a single-image request)."""
        return self.predictions[0]


class ModelVersion(Answer):
    """A registered version of a model (one of ``GET /v1/models/{name}``)."""

    name: str = ""
    version: str
    aliases: tuple[str, ...] = ()
    metrics: Numbers = Field(default_factory=dict)
    created_at: str | None = None
    run_id: str | None = None


def _spec_or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> ModelSpec | None:
    """A spec this frontend cannot read counts as no spec: one odd model must not hide the
    others (its pages then say it has no spec)."""
    try:
        spec: ModelSpec | None = handler(value)
    except ValidationError:
        return None
    return spec


#: A model spec (``mlops_common.model_spec``), None when absent or unreadable.
Spec = Annotated[ModelSpec | None, WrapValidator(_spec_or_none)]


class ServedModel(Answer):
    """One served model of ``GET /v1/models``: its version, readiness and spec."""

    name: str = Field(min_length=1)
    version: str | None = None
    ready: bool = False
    #: Why the model is not ready (None when it is).
    reason: str | None = None
    spec: Spec = None
    trainable: bool = False


class ModelCatalog(Answer):
    """``GET /v1/models``: the served models, in the gateway's order, and the default one."""

    default: str | None = None
    models: tuple[ServedModel, ...] = ()

    def find(self, name: str | None) -> ServedModel | None:
        """The served model called ``name``, None when there is none."""
        return next((model for model in self.models if model.name == name), None)


class ModelDetail(Answer):
    """``GET /v1/models/{name}``: the registered versions (newest first), the spec and whether
    the platform can retrain the model."""

    name: str
    versions: tuple[ModelVersion, ...] = ()
    spec: Spec = None
    trainable: bool = False

    def production(self) -> ModelVersion | None:
        """The version holding the ``production`` alias, None when none does."""
        return next((v for v in self.versions if "production" in v.aliases), None)


class Promotion(Answer):
    """``POST /v1/models/{name}/promote``: the version that served before (None when none did)."""

    previous_version: str | None = None


class JobAccepted(Answer):
    """``POST /v1/models/{name}/retrain``: the queued job."""

    job_id: str = Field(min_length=1)


class FeatureTest(Answer):
    """How the per-feature scores read: the test, its threshold and its direction (the drift
    service's defaults fill what is missing)."""

    method: str = "ks"
    name: str = "K-S p_value"
    threshold: float = 0.001
    #: True: a score is a p-value (drift below the threshold); False: a distance (at or above).
    score_is_p_value: bool = True


Instant = Annotated[dt.datetime, AfterValidator(_utc)]


class DriftVerdict(Answer):
    """The drift service's latest verdict for a model (``GET /v1/models/{name}/drift``,
    ``POST /v1/models/{name}/drift/check``); ``drift_detected`` is None before the first check.
    """

    model: str | None = None
    drift_detected: bool | None = None
    drifted_share: float | None = None
    window_size: int | None = None
    #: Unix seconds or ISO 8601 on the wire; UTC when the text names no zone.
    checked_at: Instant | None = None
    #: When the next scheduled check runs, if the drift service says.
    next_check_at: Instant | None = None
    #: Seconds between scheduled checks, if the drift service says.
    check_interval_s: float | None = Field(
        default=None, validation_alias=AliasChoices("check_interval_s", "interval_s")
    )
    reasons: tuple[str, ...] = ()
    #: Score of each feature's drift test (feature name → p-value, or distance).
    feature_scores: Numbers = Field(default_factory=dict)
    #: The features whose test found drift.
    drifted_features: tuple[str, ...] = ()
    feature_test: FeatureTest = Field(default_factory=FeatureTest)
    #: Label-free accuracy estimate of the window (CBPE) and of the reference, the baseline.
    estimated_accuracy: float | None = None
    reference_estimated_accuracy: float | None = None
    #: Whether the estimate used the version's calibration (False: raw confidences).
    calibrated: bool | None = None


class RetrainResult(Answer):
    """A finished retraining job's result: the trainer's ``PipelineResult.as_dict()``
    (``run_id, metrics, parity, data_hash, version, promoted, production_version,
    production_metrics, duration_s``), plus a ``decision`` (or ``reason``) sentence if given;
    a job that did not run (another held the retraining lock) says ``skipped: true``."""

    run_id: str | None = None
    version: str | None = None
    promoted: bool | None = None
    metrics: Numbers = Field(default_factory=dict)
    production_version: str | None = None
    production_metrics: Numbers = Field(default_factory=dict)
    parity: dict[str, Any] = Field(default_factory=dict)
    data_hash: str | None = None
    duration_s: float | None = None
    decision: str | None = Field(default=None, validation_alias=AliasChoices("decision", "reason"))
    #: True when the job did not train (another retraining job held the lock).
    skipped: bool = False


class JobStatus(Answer):
    """State of a retraining job (``GET /v1/jobs/{id}``): Celery's state, its progress and,
    once done, its result (raw, and read as the trainer's pipeline returns it)."""

    job_id: str
    state: Annotated[str, AfterValidator(str.upper)]
    stage: str | None = _progress("stage")
    progress: Annotated[float, AfterValidator(_fraction)] | None = _progress("progress")
    epoch: int | None = _progress("epoch")
    result: dict[str, Any] = Field(default_factory=dict)
    outcome: RetrainResult = Field(default_factory=RetrainResult, validation_alias="result")
    error: str | None = None

    @property
    def finished(self) -> bool:
        """True once the job succeeded, failed or was revoked."""
        return self.state in FINISHED_STATES


class ErrorAnswer(Answer):
    """An error answer: the API's ``{"error": {"code", "message"}}`` or FastAPI's ``detail``."""

    code: str | None = Field(default=None, validation_alias=AliasPath("error", "code"))
    message: str | None = Field(
        default=None, validation_alias=AliasChoices(AliasPath("error", "message"), "detail")
    )
