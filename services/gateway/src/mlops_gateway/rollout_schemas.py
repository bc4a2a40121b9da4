"""Bodies of ``GET|POST /v1/models/{name}/rollout``: a model's rollout state and the admin's
actions on it (see :mod:`mlops_common.rollout` for what Redis keeps, :mod:`mlops_gateway.rollout`
for how the gateway reads and writes it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlops_common.rollout import RolloutDecision

Version = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[0-9]+$")]
Reason = Annotated[str, Field(max_length=500, description="Why, for the decision log.")]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = ""


class ShadowAction(_Action):
    """Turn shadowing of the staged candidate on or off; ``share`` (0..1) sets the share of
    live requests shadowed (absent: left as it is)."""

    action: Literal["shadow"]
    enabled: bool
    share: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None


class PinAction(_Action):
    """Pin ``version``: promoted first when it is not production; no automatic rollback or
    promotion while it is pinned."""

    action: Literal["pin"]
    version: Version


class UnpinAction(_Action):
    """Let the rollout controller act on the model again."""

    action: Literal["unpin"]


class EndProbationAction(_Action):
    """End the active probation now (409 when none is active)."""

    action: Literal["end_probation"]


RolloutAction = Annotated[
    ShadowAction | PinAction | UnpinAction | EndProbationAction, Field(discriminator="action")
]


class VersionRef(BaseModel):
    """A version of the model (``null``: none)."""

    version: str | None


class ShadowSettings(BaseModel):
    """Whether inference shadows the candidate, and on which share of live requests
    (``share: null``: the inference default, ``INFERENCE_SHADOW_SHARE``)."""

    enabled: bool
    share: float | None


class ProbationOut(BaseModel):
    """The production version on probation: it replaced ``previous`` at ``started`` and is
    watched until ``until`` (unix seconds); ``active``: the window has not ended."""

    version: str
    previous: str | None
    started: float
    until: float
    active: bool


class VersionStatsOut(BaseModel):
    """One version's figures over the shadowed requests (``mlops_common.live_stats``)."""

    version: str
    rows: int
    labelled: int
    accuracy: float | None
    mean_confidence: float | None
    p50_ms: float | None
    p99_ms: float | None


class ShadowStatsOut(BaseModel):
    """Production and candidate side by side over the same shadowed requests of the window;
    ``agreement``: the share of rows both labelled alike."""

    requests: int
    rows: int
    agreement: float | None
    production: VersionStatsOut
    candidate: VersionStatsOut


class Skipped(BaseModel):
    """Entries that could not be read and were left out: shadow records, feedback labels and
    decision-log entries."""

    shadow: int = 0
    feedback: int = 0
    decisions: int = 0


class RolloutStatus(BaseModel):
    """A model's rollout: production and candidate, shadowing, pin, probation, live figures of
    the pair (``null`` without a candidate) and the latest decisions (newest first)."""

    model: str
    production: VersionRef
    candidate: VersionRef | None
    shadow: ShadowSettings
    pinned: str | None
    probation: ProbationOut | None
    stats: ShadowStatsOut | None
    decisions: list[RolloutDecision]
    skipped: Skipped = Field(default_factory=Skipped)
