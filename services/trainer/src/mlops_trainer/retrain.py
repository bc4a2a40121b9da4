"""One retraining job, without Celery: plan → config → feedback rows → pipeline → decision.

A job retrains one registered model (``digits-classifier`` by default). The plan comes from the
model's spec in the registry (:mod:`mlops_trainer.trainable`): an imported model, a model with
no version, or a task without a recipe is refused before anything is read or written, and the
job's result says why (:func:`refusal`). Otherwise the task's recipe selects the config, the
feedback comes from that model's traffic stream only, and the new version is registered and
promoted under that model's name.

The held-out set on which candidate and production are compared is the dataset's test split
**plus** a held-out slice of the feedback-labelled traffic (chosen per prediction id, see
:mod:`mlops_trainer.feedback`). A test set of the old distribution alone could never show that a
candidate has learnt the new one; a feedback slice alone would be small and would forget the old
distribution. Both slices are reported beside the whole (``dataset_test_*``, ``feedback_test_*``).

A job is tagged with its id on its MLflow run. When it fails, or when a redelivered job finds runs
of an earlier attempt (its worker was killed), every version those runs registered is deleted
unless it is production, and ``staging`` goes back where it was: nothing half-done stays.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from redis import Redis

from mlops_common import promotion
from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING, MODEL_NAME
from mlops_trainer import registry
from mlops_trainer.config import compose_config
from mlops_trainer.feedback import load_feedback, split_rows
from mlops_trainer.pipeline import PipelineResult, run_pipeline
from mlops_trainer.recipes import Recipe
from mlops_trainer.settings import TrainerSettings
from mlops_trainer.train import ProgressCallback
from mlops_trainer.trainable import NotTrainableError, plan_training

log = logging.getLogger(__name__)

JOB_TAG = "retrain_job_id"
#: Always applied first: a worker has no terminal to draw a progress bar on.
BASE_OVERRIDES = ("trainer.enable_progress_bar=false",)


@dataclass(frozen=True)
class Aliases:
    """Where ``staging`` and ``production`` pointed before the job."""

    staging: str | None
    production: str | None

    @classmethod
    def read(cls, client: MlflowClient, name: str = MODEL_NAME) -> Aliases:
        """The current targets of both aliases of model ``name``."""
        staging = promotion.alias_version(client, ALIAS_STAGING, name)
        production = promotion.alias_version(client, ALIAS_PRODUCTION, name)
        return cls(
            str(staging.version) if staging else None,
            str(production.version) if production else None,
        )


def job_overrides(
    settings: TrainerSettings, overrides: list[str], recipe: Recipe | None = None
) -> list[str]:
    """The overrides a job composes with: base, the task's, ``TRAINER_RETRAIN_OVERRIDES``, then
    its own."""
    task = recipe.overrides if recipe is not None else ()
    return [*BASE_OVERRIDES, *task, *settings.retrain_overrides, *overrides]


def refusal(model: str, refused: NotTrainableError, *, reason: str, job_id: str) -> dict[str, Any]:
    """The result of a job that did not train ``model`` (it changed nothing): ``skipped``, the
    ``refused`` code, and the plain ``reason``, as a job skipped by the lock answers."""
    return {
        "skipped": True,
        "model": model,
        "refused": refused.code,
        "reason": str(refused),
        "trigger": reason,
        "job_id": job_id,
    }


def explain(result: PipelineResult, *, margin: float, promote: bool, feedback_test: int) -> str:
    """One sentence on the promotion decision, with the numbers it was made on."""
    candidate = result.metrics.get("test_accuracy", float("nan"))
    where = "the dataset's test split" + (
        f" plus {feedback_test} held-out feedback-labelled rows" if feedback_test else ""
    )
    slice_note = ""
    if feedback_test and "feedback_test_accuracy" in result.metrics:
        production_slice = result.production_metrics.get("feedback_test_accuracy")
        slice_note = f"; on the feedback rows alone {result.metrics['feedback_test_accuracy']:.4f}"
        if production_slice is not None:
            slice_note += f" vs {production_slice:.4f}"
    if result.version is None:
        return "not registered (registry.register=false)"
    if not promote:
        return f"registered v{result.version} as staging; promotion is off (registry.promote=false)"
    if result.production_version is None:
        return (
            f"promoted v{result.version}: there was no production model (accuracy {candidate:.4f})"
        )
    production = result.production_metrics.get("test_accuracy", float("nan"))
    sign = ">=" if result.promoted or result.awaiting_live else "<"
    verdict = (
        f"promoted v{result.version} over v{result.production_version}"
        if result.promoted
        else f"v{result.version} staged for shadow evaluation beside production "
        f"v{result.production_version} (registry.live_gate: drift's rollout controller promotes "
        "it once labelled live traffic agrees)"
        if result.awaiting_live
        else f"kept production v{result.production_version}; v{result.version} stays staging"
    )
    return (
        f"{verdict}: candidate accuracy {candidate:.4f} {sign} production {production:.4f} "
        f"+ margin {margin:g} on {where}{slice_note}"
    )


def _versions_of_runs(client: MlflowClient, run_ids: list[str], name: str) -> list[str]:
    versions = []
    for run_id in run_ids:
        for version in client.search_model_versions(f"run_id='{run_id}'"):
            if version.name == name:
                versions.append(str(version.version))
    return versions


def undo(
    client: MlflowClient,
    job_id: str,
    before: Aliases,
    *,
    keep_production: bool,
    publish: promotion.Publish | None = None,
    name: str = MODEL_NAME,
) -> None:
    """Delete the versions of ``name`` that runs of ``job_id`` registered and put its aliases
    back (see the module docstring).

    A version that is production now survives when ``keep_production`` (a redelivered job whose
    earlier attempt promoted a complete version before the worker died); otherwise production's
    return is announced through ``publish``.
    """
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string=f"tags.{JOB_TAG} = '{job_id}'")
    production = promotion.alias_version(client, ALIAS_PRODUCTION, name)
    current = str(production.version) if production else None
    for version in _versions_of_runs(client, [run.info.run_id for run in runs], name):
        if keep_production and version == current:
            continue
        client.delete_model_version(name, version)
        log.warning("removed a version of an unfinished job", extra={"version": version})
    for run in runs:
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
    if not keep_production and before.production and current != before.production:
        promotion.undo(client, before.production, name=name, publish=publish)
    if before.staging and promotion.alias_version(client, ALIAS_STAGING, name) is None:
        with contextlib.suppress(MlflowException):  # that version was deleted meanwhile
            promotion.set_alias(client, ALIAS_STAGING, before.staging, name)


def run_retrain(
    reason: str,
    overrides: list[str],
    *,
    job_id: str,
    settings: TrainerSettings,
    redis: Redis,
    on_progress: ProgressCallback | None = None,
    model: str = MODEL_NAME,
) -> dict[str, Any]:
    """Run one retraining job of ``model``; the result is ``PipelineResult.as_dict()`` plus the
    decision, or :func:`refusal` when the model cannot be trained (nothing is changed then).

    Raises:
        Whatever the pipeline raises, after :func:`undo` removed what the job registered.
    """
    client = registry.make_client(settings.tracking_uri)
    try:
        plan = plan_training(client, model)
    except NotTrainableError as refused:
        log.info(
            "retraining refused", extra={"job_id": job_id, "model": model, "why": str(refused)}
        )
        return refusal(model, refused, reason=reason, job_id=job_id)
    cfg = compose_config(job_overrides(settings, overrides, plan.recipe), settings.conf_dir)
    undo(client, job_id, Aliases.read(client, model), keep_production=True, name=model)
    rows, stats = load_feedback(
        redis,
        max_rows=settings.feedback_max_rows,
        stream_scan=settings.feedback_stream_scan,
        model=model,
        spec=plan.spec,
    )
    extra = split_rows(
        rows,
        test_fraction=settings.feedback_test_fraction,
        val_fraction=settings.feedback_val_fraction,
        repeat=settings.feedback_repeat,
    )
    if stats.note():
        log.warning("feedback not usable", extra={"model": model, "why": stats.note()})
    before = Aliases.read(client, model)
    tags = {JOB_TAG: job_id, "retrain_reason": reason[:500]}
    try:
        result = run_pipeline(
            cfg,
            settings=settings,
            on_progress=on_progress,
            tags=tags,
            extra=extra,
            publish=redis.publish,
            spec=plan.spec,
        )
    except BaseException:
        log.exception("retraining failed; undoing", extra={"job_id": job_id, "model": model})
        undo(client, job_id, before, keep_production=False, publish=redis.publish, name=model)
        raise
    decision = explain(
        result,
        margin=float(cfg.registry.margin),
        promote=bool(cfg.registry.promote),
        feedback_test=extra.sizes["test"],
    )
    log.info("retraining finished", extra={"job_id": job_id, "model": model, "decision": decision})
    return {
        **result.as_dict(),
        "model": model,
        "reason": decision,
        "trigger": reason,
        "job_id": job_id,
        "feedback": {
            **vars(stats),
            **{f"{k}_rows": v for k, v in extra.sizes.items()},
            **({"note": note} if (note := stats.note()) else {}),
        },
    }
