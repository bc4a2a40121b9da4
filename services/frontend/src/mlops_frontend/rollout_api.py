"""Typed views of ``GET|POST /v1/models/{name}/rollout``: a model's safe rollout as the gateway
answers it (production and the staged candidate, shadowing, pin, probation, the live figures of
the pair and the decision log). Read like every answer of :mod:`mlops_frontend.api`."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from mlops_frontend.api import Answer


class VersionRef(Answer):
    """A version (None: none)."""

    version: str | None = None


class ShadowSettings(Answer):
    """Whether the candidate is shadowed, and on which share (None: the inference default)."""

    enabled: bool = True
    share: float | None = None


class Probation(Answer):
    """The production version on probation, the one it replaced, and its window (unix s)."""

    version: str
    previous: str | None = None
    started: float
    until: float
    active: bool = False

    @property
    def until_time(self) -> dt.datetime:
        """The end of the window, in UTC."""
        return dt.datetime.fromtimestamp(self.until, tz=dt.UTC)


class VersionStats(Answer):
    """One version's figures over the shadowed requests."""

    version: str
    rows: int = 0
    labelled: int = 0
    accuracy: float | None = None
    mean_confidence: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None


class ShadowStats(Answer):
    """Production and candidate over the same shadowed requests."""

    requests: int = 0
    rows: int = 0
    agreement: float | None = None
    production: VersionStats
    candidate: VersionStats


class Decision(Answer):
    """One entry of the decision log."""

    action: str
    version: str | None = None
    previous: str | None = None
    reason: str = ""
    by: str = ""
    timestamp: float = 0.0


class Skipped(Answer):
    """Entries the gateway could not read and left out."""

    shadow: int = 0
    feedback: int = 0
    decisions: int = 0


class Rollout(Answer):
    """``GET /v1/models/{name}/rollout`` (and the answer of each action)."""

    model: str
    production: VersionRef = Field(default_factory=VersionRef)
    candidate: VersionRef | None = None
    shadow: ShadowSettings = Field(default_factory=ShadowSettings)
    pinned: str | None = None
    probation: Probation | None = None
    stats: ShadowStats | None = None
    decisions: tuple[Decision, ...] = ()
    skipped: Skipped = Field(default_factory=Skipped)
