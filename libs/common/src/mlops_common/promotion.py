"""The one place that moves the ``production`` alias of a registered model (needs the ``registry``
extra): the trainer's pipeline and CLI, the retraining job, the gateway and the CI evaluation all
call :func:`promote`, :func:`rollback` or :func:`undo`.

Each move records the registered model's production history (tag :data:`HISTORY_TAG`, oldest
first) that :func:`rollback` walks back, and is announced as a
:class:`~mlops_common.redis_keys.ModelEvent` on ``model-events`` through the caller's ``publish``
(``redis.Redis.publish`` or the like). A failed announcement is logged and reported in
:attr:`Promotion.published`, never raised: inference also polls the registry. Aliases move only
after the version exists. The MLflow client blocks: async callers use a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlflow.exceptions import MlflowException

from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent
from mlops_common.registry import ALIAS_PRODUCTION, MODEL_NAME

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

#: Registered-model tag holding the versions that were production, oldest first ("1,3,4").
HISTORY_TAG = "production_history"
HISTORY_LENGTH = 50

#: ``publish(channel, message)``, e.g. ``redis.Redis.publish``.
Publish = Callable[[str, str], object]


class PromotionError(RuntimeError):
    """A move that cannot be done: unknown model or version, nothing to roll back to."""


@dataclass(frozen=True)
class Promotion:
    """Where ``production`` points now, where it pointed before, whether that was announced."""

    version: str
    previous: str | None
    published: bool = False


def should_promote(candidate: float, production: float | None, margin: float = 0.0) -> bool:
    """The offline rule: no production yet, or ``candidate >= production + margin``."""
    return production is None or candidate >= production + margin


@dataclass(frozen=True)
class LiveEvidence:
    """What shadowing showed: rows shadowed, labelled rows among them, and each model's
    accuracy on those labelled rows (``None`` without any)."""

    shadowed: int
    labelled: int
    candidate_accuracy: float | None
    production_accuracy: float | None


@dataclass(frozen=True)
class GateRule:
    """The promotion gate's settings: the offline ``margin``; the live margin and the least
    evidence that counts (``min_shadowed`` rows, ``min_labelled`` labelled rows); whether a
    candidate must wait for that evidence (``require_live``) or may go on offline figures."""

    margin: float = 0.0
    live_margin: float = 0.0
    min_shadowed: int = 200
    min_labelled: int = 50
    require_live: bool = False


@dataclass(frozen=True)
class Decision:
    """The gate's verdict and why; ``waiting``: not yet decided, the live evidence is short."""

    promote: bool
    reason: str
    waiting: bool = False


def _enough(live: LiveEvidence | None, rule: GateRule) -> bool:
    return (
        live is not None
        and live.shadowed >= rule.min_shadowed
        and live.labelled >= rule.min_labelled
        and live.candidate_accuracy is not None
        and live.production_accuracy is not None
    )


def decide(
    candidate: float | None,
    production: float | None,
    rule: GateRule = GateRule(),
    live: LiveEvidence | None = None,
) -> Decision:
    """The promotion rule, offline and live, in one place.

    1. Offline: the candidate's test metric must pass :func:`should_promote` (a candidate
       without one, e.g. an imported model, is judged on live evidence alone).
    2. Live, once there is enough of it: the candidate's accuracy on labelled shadowed rows
       must be at least production's on the same rows plus ``live_margin``.
    3. Without enough live evidence: wait when ``require_live`` (or when there is no offline
       figure either), else decide on the offline figures.
    """
    if candidate is not None and not should_promote(candidate, production, rule.margin):
        assert production is not None  # nosec B101: should_promote() is False only with a production figure; narrows the type for mypy
        return Decision(
            False,
            f"offline: candidate {candidate:.4f} < production {production:.4f}"
            f" + margin {rule.margin:g}",
        )
    offline = (
        "offline: no test metric"
        if candidate is None
        else "offline: no production model"
        if production is None
        else f"offline: candidate {candidate:.4f} >= production {production:.4f}"
        f" + margin {rule.margin:g}"
    )
    if _enough(live, rule):
        assert live is not None  # nosec B101: _enough() checked it; narrows the type for mypy
        assert live.candidate_accuracy is not None  # nosec B101: _enough() checked it; narrows the type for mypy
        assert live.production_accuracy is not None  # nosec B101: _enough() checked it; narrows the type for mypy
        better = live.candidate_accuracy >= live.production_accuracy + rule.live_margin
        sign = ">=" if better else "<"
        return Decision(
            better,
            f"{offline}; live: candidate {live.candidate_accuracy:.4f} {sign} production "
            f"{live.production_accuracy:.4f} + margin {rule.live_margin:g} on {live.labelled} "
            f"labelled of {live.shadowed} shadowed rows",
        )
    if rule.require_live or candidate is None:
        shadowed = live.shadowed if live else 0
        labelled = live.labelled if live else 0
        return Decision(
            False,
            f"{offline}; waiting for live evidence: {shadowed}/{rule.min_shadowed} shadowed, "
            f"{labelled}/{rule.min_labelled} labelled rows",
            waiting=True,
        )
    return Decision(True, f"{offline}; no live evidence required")


def alias_version(client: MlflowClient, alias: str, name: str = MODEL_NAME) -> ModelVersion | None:
    """The version ``alias`` points at, or ``None`` when the alias (or the model) is absent."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _move(client: MlflowClient, alias: str, version: str, name: str) -> None:
    client.set_registered_model_alias(name, alias, version)
    log.info("alias moved", extra={"model": name, "alias": alias, "version": version})


def set_alias(client: MlflowClient, alias: str, version: str, name: str = MODEL_NAME) -> None:
    """Point ``alias`` at ``version``; ``production`` moves only through :func:`promote`."""
    if alias == ALIAS_PRODUCTION:
        raise ValueError("production moves through promote(), which records its history")
    _move(client, alias, str(version), name)


def history(client: MlflowClient, name: str = MODEL_NAME) -> list[str]:
    """The versions that were production, oldest first; raises PromotionError without a model."""
    try:
        raw = client.get_registered_model(name).tags.get(HISTORY_TAG, "")
    except MlflowException as exc:
        if not _missing(exc):
            raise  # the registry is down or failing: not the caller's mistake
        raise PromotionError(f"no registered model {name}") from exc
    return [v for v in raw.split(",") if v]


#: The registry's answers that mean "no such model or version" (anything else, a connection
#: refused included, is the registry failing).
_MISSING_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"})


def _missing(exc: MlflowException) -> bool:
    return exc.error_code in _MISSING_CODES


def _announce(publish: Publish | None, name: str, version: str) -> bool:
    if publish is None:
        return False
    try:
        publish(MODEL_EVENTS_CHANNEL, ModelEvent(name=name, version=version).encode())
    except Exception as exc:  # whatever the client raises: inference also polls the registry
        log.warning("promotion not announced", extra={"version": version, "error": str(exc)})
        return False
    return True


def _move_production(
    client: MlflowClient, version: str, versions: list[str], name: str, publish: Publish | None
) -> Promotion:
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        if not _missing(exc):
            raise
        raise PromotionError(f"{name} has no version {version}") from exc
    current = alias_version(client, ALIAS_PRODUCTION, name)
    _move(client, ALIAS_PRODUCTION, version, name)
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(versions[-HISTORY_LENGTH:]))
    previous = str(current.version) if current is not None else None
    return Promotion(version, previous, _announce(publish, name, version))


def promote(
    client: MlflowClient, version: str, *, name: str = MODEL_NAME, publish: Publish | None = None
) -> Promotion:
    """Move ``production`` to ``version``, append it to the history, announce it.

    A production version missing from the history's end (moved by hand) is recorded first, so a
    rollback returns to the version that served. Raises PromotionError for an unknown version.
    """
    version, versions = str(version), history(client, name)
    current = alias_version(client, ALIAS_PRODUCTION, name)
    for entry in ([str(current.version)] if current is not None else []) + [version]:
        if not versions or versions[-1] != entry:
            versions.append(entry)
    return _move_production(client, version, versions, name, publish)


def undo(
    client: MlflowClient, version: str, *, name: str = MODEL_NAME, publish: Publish | None = None
) -> Promotion:
    """Put ``production`` back on ``version``; what was promoted after it leaves the history
    (a failed job's promotion is taken back, not recorded as one more)."""
    version, versions = str(version), history(client, name)
    if version in versions:
        del versions[len(versions) - versions[::-1].index(version) :]
    else:
        versions.append(version)
    return _move_production(client, version, versions, name, publish)


def rollback(
    client: MlflowClient,
    version: str | None = None,
    *,
    name: str = MODEL_NAME,
    publish: Publish | None = None,
) -> Promotion:
    """Move ``production`` to ``version`` when given, else one entry back in the history (the
    current version leaves it, so rolling back twice goes two promotions back)."""
    if version is not None:
        return promote(client, version, name=name, publish=publish)
    versions = history(client, name)
    if len(versions) < 2:
        raise PromotionError("no earlier production version recorded; name a version")
    return undo(client, versions[-2], name=name, publish=publish)
