"""A model's rollout state and decision log, as they are kept in Redis.

- ``rollout:<model>`` (:func:`rollout_key`) — a hash, one field per setting, so the gateway's
  admin actions and drift's rollout controller never overwrite each other's fields:

  - ``shadow`` — ``on``/``off``: whether inference shadows the staged candidate (default on);
  - ``shadow_share`` — the share of live requests shadowed, ``0..1`` (absent: the service's
    default, ``INFERENCE_SHADOW_SHARE``);
  - ``pinned`` — a version a person pinned: no automatic rollback or promotion while it serves;
  - ``probation`` — :class:`Probation` as JSON while a new production version is on probation;
  - ``production`` — the production version the controller last saw (a change starts
    probation; kept here so a restart of drift does not miss or repeat one).

- ``rollout-log:<model>`` (:func:`rollout_log_key`) — a list of :class:`RolloutDecision` as
  JSON, newest first, trimmed to :data:`ROLLOUT_LOG_LENGTH`.
- ``outcomes:<model>`` (:func:`outcomes_key`) — a hash of counters written by inference
  (``HINCRBY``): ``<version>:ok`` and ``<version>:error``, the requests each served version
  answered and failed (a model run that raised; not the client's bad input, not overload)
  since the key was created (:func:`parse_outcomes`).

Pure encodings, no client: the services read and write them with their own Redis clients.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ROLLOUT_KEY_PREFIX: Final = "rollout:"
ROLLOUT_LOG_PREFIX: Final = "rollout-log:"
ROLLOUT_LOG_LENGTH: Final = 200
OUTCOMES_PREFIX: Final = "outcomes:"

FIELD_SHADOW: Final = "shadow"
FIELD_SHADOW_SHARE: Final = "shadow_share"
FIELD_PINNED: Final = "pinned"
FIELD_PROBATION: Final = "probation"
FIELD_PRODUCTION: Final = "production"

#: What a decision did. ``promoted``/``rejected``: a staged candidate, on live evidence;
#: ``rolled_back``: probation found a regression; ``probation_*``: its start and end;
#: ``pinned``/``unpinned``/``shadow``: a person's actions.
Action = Literal[
    "promoted",
    "rejected",
    "rolled_back",
    "probation_started",
    "probation_passed",
    "probation_ended",
    "pinned",
    "unpinned",
    "shadow",
]


def rollout_key(model: str) -> str:
    """The hash holding ``model``'s rollout settings: ``rollout:<model>``."""
    return ROLLOUT_KEY_PREFIX + model


def rollout_log_key(model: str) -> str:
    """The list holding ``model``'s decision log, newest first: ``rollout-log:<model>``."""
    return ROLLOUT_LOG_PREFIX + model


def outcomes_key(model: str) -> str:
    """The hash counting answered and failed requests per version: ``outcomes:<model>``."""
    return OUTCOMES_PREFIX + model


def outcome_field(version: str, failed: bool) -> str:
    """The ``outcomes:<model>`` field of ``version``'s answered or failed requests."""
    return f"{version}:{'error' if failed else 'ok'}"


def parse_outcomes(fields: Mapping[bytes | str, bytes | str]) -> dict[str, tuple[int, int]]:
    """``HGETALL outcomes:<model>`` as version → (answered, failed); malformed fields skipped."""
    counts: dict[str, list[int]] = {}
    for key, value in fields.items():
        name = key.decode() if isinstance(key, bytes) else key
        version, _, kind = name.rpartition(":")
        try:
            number = int(value)
        except ValueError:
            continue
        if version and kind in ("ok", "error"):
            counts.setdefault(version, [0, 0])[kind == "error"] += number
    return {version: (ok, error) for version, (ok, error) in counts.items()}


class Probation(BaseModel):
    """A production version on probation: it replaced ``previous`` at ``started`` (unix s) and
    is watched until ``until``. ``start_outcomes``/``previous_outcomes``: the (answered, failed)
    counts of each version when probation began (:func:`parse_outcomes`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    previous: str | None
    started: float
    until: float
    start_outcomes: tuple[int, int] = (0, 0)
    previous_outcomes: tuple[int, int] = (0, 0)

    def active(self, now: float | None = None) -> bool:
        """True until the window ends."""
        return (time.time() if now is None else now) < self.until


class RolloutDecision(BaseModel):
    """One entry of the decision log: what happened to which version, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    version: str | None = None
    previous: str | None = None
    reason: str = ""
    by: str = Field(default="monitor", description="`monitor`, `admin` or `retrain`.")
    timestamp: float = Field(default_factory=time.time)


class RolloutState(BaseModel):
    """The settings of ``rollout:<model>``, decoded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shadow: bool = True
    shadow_share: float | None = Field(default=None, ge=0.0, le=1.0)
    pinned: str | None = None
    probation: Probation | None = None
    production: str | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[bytes | str, bytes | str]) -> RolloutState:
        """Decode ``HGETALL rollout:<model>``; a malformed field reads as its default."""
        text = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
        state: dict[str, object] = {}
        if FIELD_SHADOW in text:
            state["shadow"] = text[FIELD_SHADOW] != "off"
        if text.get(FIELD_SHADOW_SHARE):
            try:
                share = float(text[FIELD_SHADOW_SHARE])
            except ValueError:
                share = -1.0
            if 0.0 <= share <= 1.0:
                state["shadow_share"] = share
        if text.get(FIELD_PINNED):
            state["pinned"] = text[FIELD_PINNED]
        if text.get(FIELD_PRODUCTION):
            state["production"] = text[FIELD_PRODUCTION]
        if text.get(FIELD_PROBATION):
            with contextlib.suppress(ValidationError):
                state["probation"] = Probation.model_validate_json(text[FIELD_PROBATION])
        return cls.model_validate(state)

    def share(self, default: float) -> float:
        """The share of requests to shadow: 0 when shadowing is off."""
        if not self.shadow:
            return 0.0
        return default if self.shadow_share is None else self.shadow_share
