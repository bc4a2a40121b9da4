"""Typed views of the gateway's JSON answers, parsed leniently but never silently wrong.

Each ``from_json`` takes the decoded body and raises :class:`MalformedAnswerError` when a field
the pages need is missing or has the wrong type, so that a gateway speaking another version of
the API shows up as a clear message instead of a ``KeyError`` deep inside a page.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

#: Job states after which nothing changes any more (Celery's ready states).
FINISHED_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


class MalformedAnswerError(ValueError):
    """The gateway answered 2xx with a body that does not follow the API."""


def _require(body: Mapping[str, Any], key: str, kind: Any) -> Any:
    value = body.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MalformedAnswerError(f"the answer lacks a valid {key!r}: {value!r}")
    return value


def _as_object(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise MalformedAnswerError(f"the {what} answer is not a JSON object")
    return body


def _metrics(raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        return {}
    return {
        str(k): float(v)
        for k, v in raw.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


@dataclass(frozen=True, slots=True)
class Prediction:
    """One predicted instance, with the model that answered."""

    id: str
    request_id: str
    label: int
    confidence: float
    probabilities: tuple[float, ...]
    model_name: str
    model_version: str

    @classmethod
    def from_json(cls, body: Any) -> Prediction:
        """The first prediction of a ``/v1/predict`` answer."""
        body = _as_object(body, "prediction")
        model = _as_object(body.get("model"), "prediction's model")
        predictions = _require(body, "predictions", list)
        if not predictions:
            raise MalformedAnswerError("the answer holds no prediction")
        first = _as_object(predictions[0], "prediction")
        probabilities = _require(first, "probabilities", list)
        return cls(
            id=str(_require(first, "id", str)),
            request_id=str(body.get("request_id", "")),
            label=int(_require(first, "label", int)),
            confidence=float(_require(first, "confidence", int | float)),
            probabilities=tuple(float(p) for p in probabilities),
            model_name=str(model.get("name", "")),
            model_version=str(model.get("version", "")),
        )


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A registered version of the model (the serving one or one of the list)."""

    name: str
    version: str
    aliases: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    created_at: str | None = None
    run_id: str | None = None

    @classmethod
    def from_json(cls, body: Any) -> ModelVersion:
        """Parse ``GET /v1/model`` or one item of ``GET /v1/models``."""
        body = _as_object(body, "model")
        version = body.get("version")
        if not isinstance(version, str | int) or isinstance(version, bool):
            raise MalformedAnswerError(f"the answer lacks a valid 'version': {version!r}")
        aliases = body.get("aliases") or ()
        return cls(
            name=str(body.get("name", "")),
            version=str(version),
            aliases=tuple(str(a) for a in aliases) if isinstance(aliases, list) else (),
            metrics=_metrics(body.get("metrics")),
            created_at=str(body["created_at"]) if body.get("created_at") else None,
            run_id=str(body["run_id"]) if body.get("run_id") else None,
        )


def parse_model_list(body: Any) -> list[ModelVersion]:
    """Parse ``GET /v1/models``: ``{"name", "versions": [...]}`` (a bare list is accepted)."""
    items = (
        body if isinstance(body, list) else _require(_as_object(body, "models"), "versions", list)
    )
    return [ModelVersion.from_json(item) for item in items]


@dataclass(frozen=True, slots=True)
class FeatureTest:
    """How the per-feature scores read: the test, its threshold and its direction."""

    method: str = "ks"
    name: str = "K-S p_value"
    threshold: float = 0.001
    #: True: a score is a p-value (drift below the threshold); False: a distance (at or above).
    score_is_p_value: bool = True

    @classmethod
    def from_json(cls, raw: Any) -> FeatureTest:
        """Parse ``feature_test``; the drift service's defaults fill what is missing."""
        if not isinstance(raw, Mapping):
            return cls()
        default = cls()
        threshold = raw.get("threshold")
        p_value = raw.get("score_is_p_value")
        return cls(
            method=str(raw.get("method") or default.method),
            name=str(raw.get("name") or default.name),
            threshold=float(threshold) if _is_number(threshold) else default.threshold,
            score_is_p_value=p_value if isinstance(p_value, bool) else default.score_is_p_value,
        )


@dataclass(frozen=True, slots=True)
class DriftVerdict:
    """The drift service's latest verdict; ``drift_detected`` is None before the first check."""

    drift_detected: bool | None
    drifted_share: float | None
    window_size: int | None
    checked_at: dt.datetime | None
    reasons: tuple[str, ...]
    #: Score of each feature's drift test (feature name → p-value, or distance).
    feature_scores: dict[str, float] = field(default_factory=dict)
    #: The features whose test found drift.
    drifted_features: tuple[str, ...] = ()
    feature_test: FeatureTest = field(default_factory=FeatureTest)

    @classmethod
    def from_json(cls, body: Any) -> DriftVerdict:
        """Parse ``GET /v1/drift`` (or the answer of ``POST /v1/drift/check``)."""
        body = _as_object(body, "drift")
        detected = body.get("drift_detected")
        share = body.get("drifted_share")
        window = body.get("window_size")
        reasons = body.get("reasons") or []
        drifted = body.get("drifted_features") or []
        return cls(
            drift_detected=detected if isinstance(detected, bool) else None,
            drifted_share=float(share) if _is_number(share) else None,
            window_size=int(window) if _is_number(window) else None,
            checked_at=_timestamp(body.get("checked_at")),
            reasons=tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
            feature_scores=_metrics(body.get("feature_scores")),
            drifted_features=tuple(str(d) for d in drifted) if isinstance(drifted, list) else (),
            feature_test=FeatureTest.from_json(body.get("feature_test")),
        )


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(raw: Any) -> dt.datetime | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return dt.datetime.fromtimestamp(float(raw), tz=dt.UTC)
    if isinstance(raw, str) and raw:
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


@dataclass(frozen=True, slots=True)
class RetrainResult:
    """A finished retraining job's result: the trainer's ``PipelineResult.as_dict()``
    (``run_id, metrics, parity, data_hash, version, promoted, production_version,
    production_metrics, duration_s``), plus a ``decision`` (or ``reason``) sentence if given;
    a job that did not run (another held the retraining lock) says ``skipped: true``."""

    run_id: str | None = None
    version: str | None = None
    promoted: bool | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    production_version: str | None = None
    production_metrics: dict[str, float] = field(default_factory=dict)
    parity: dict[str, Any] = field(default_factory=dict)
    data_hash: str | None = None
    duration_s: float | None = None
    decision: str | None = None
    #: True when the job did not train (another retraining job held the lock).
    skipped: bool = False

    @classmethod
    def from_json(cls, raw: Any) -> RetrainResult:
        """Parse a job's ``result``; a missing field stays None (or empty)."""
        if not isinstance(raw, Mapping):
            return cls()
        promoted = raw.get("promoted")
        parity = raw.get("parity")
        duration = raw.get("duration_s")
        return cls(
            run_id=_text(raw.get("run_id")),
            version=_text(raw.get("version")),
            promoted=promoted if isinstance(promoted, bool) else None,
            metrics=_metrics(raw.get("metrics")),
            production_version=_text(raw.get("production_version")),
            production_metrics=_metrics(raw.get("production_metrics")),
            parity=dict(parity) if isinstance(parity, Mapping) else {},
            data_hash=_text(raw.get("data_hash")),
            duration_s=float(duration) if _is_number(duration) else None,
            decision=_text(raw.get("decision")) or _text(raw.get("reason")),
            skipped=raw.get("skipped") is True,
        )


def _text(value: Any) -> str | None:
    """A non-empty string (or number, e.g. a version) as text; None otherwise."""
    if isinstance(value, str):
        return value or None
    return str(value) if _is_number(value) else None


@dataclass(frozen=True, slots=True)
class JobStatus:
    """State of a retraining job: Celery's state, its progress and, once done, its result."""

    job_id: str
    state: str
    stage: str | None = None
    progress: float | None = None
    epoch: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def from_json(cls, body: Any) -> JobStatus:
        """Parse ``GET /v1/jobs/{id}``."""
        body = _as_object(body, "job")
        progress = body.get("progress") if isinstance(body.get("progress"), Mapping) else {}
        fraction = progress.get("progress")
        epoch = progress.get("epoch")
        result = body.get("result")
        return cls(
            job_id=str(_require(body, "job_id", str)),
            state=str(_require(body, "state", str)).upper(),
            stage=str(progress["stage"]) if progress.get("stage") else None,
            progress=_fraction(fraction),
            epoch=int(epoch) if isinstance(epoch, int | float) else None,
            result=dict(result) if isinstance(result, Mapping) else {},
            error=str(body["error"]) if body.get("error") else None,
        )

    @property
    def finished(self) -> bool:
        """True once the job succeeded, failed or was revoked."""
        return self.state in FINISHED_STATES

    @property
    def outcome(self) -> RetrainResult:
        """The result as the trainer's pipeline returns it."""
        return RetrainResult.from_json(self.result)

    @property
    def promoted(self) -> bool | None:
        """Whether the result says the candidate was promoted (None until it says)."""
        return self.outcome.promoted

    @property
    def decision(self) -> str | None:
        """The result's own explanation of the promotion decision, when it gives one."""
        return self.outcome.decision


def _fraction(raw: Any) -> float | None:
    """Progress as 0..1 (a percentage above 1 is scaled down)."""
    if not isinstance(raw, int | float) or isinstance(raw, bool) or not math.isfinite(raw):
        return None
    value = float(raw) / 100.0 if raw > 1 else float(raw)
    return min(max(value, 0.0), 1.0)
