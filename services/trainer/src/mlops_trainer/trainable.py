"""Which registered models the trainer may train, read from their specs in the registry.

A model is retrained with the recipe of the task its spec names (:mod:`mlops_trainer.recipes`)
when the spec says ``trainable``. The spec that decides is the ``production`` version's, else the
newest version's. A version without a spec is a first-wave version of a built-in model (the
trainer wrote no spec then), so it is trained with that model's recipe. A built-in model with no
version yet is trained from its recipe (the first retrain or bootstrap creates it). Anything else
is refused with a :class:`NotTrainableError` whose ``code`` says why and whose message says it
plainly.

``mlops-train import`` asks the other way round (:func:`trained_version`): a name whose versions
were trained here is never imported over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from mlops_common import promotion
from mlops_common.model_spec import ModelSpec, ModelSpecError
from mlops_common.registry import ALIAS_PRODUCTION
from mlops_trainer import registry
from mlops_trainer.recipes import Recipe, builtin_recipe, recipe_for_task

log = logging.getLogger(__name__)

#: ``NotTrainableError.code`` values (the ``refused`` field of a refused job's result).
NOT_TRAINABLE: Final = "not_trainable"
NO_VERSION: Final = "no_version"
NO_RECIPE: Final = "no_recipe"
NO_SPEC: Final = "no_spec"
INVALID_SPEC: Final = "invalid_spec"


class NotTrainableError(Exception):
    """The trainer cannot train this model; ``code`` is one of the constants above."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TrainingPlan:
    """How to train ``spec.name``: the task's recipe and the spec new versions get."""

    recipe: Recipe
    spec: ModelSpec
    #: The version whose spec decided (None: a built-in model with no version yet).
    decided_by: str | None


def _deciding_version(client: MlflowClient, name: str) -> ModelVersion | None:
    production = promotion.alias_version(client, ALIAS_PRODUCTION, name)
    if production is not None:
        return production
    versions = registry.versions_newest_first(client, name)
    return versions[0] if versions else None


def plan_training(client: MlflowClient, name: str) -> TrainingPlan:
    """The plan to train model ``name``; raise :class:`NotTrainableError` when it cannot be."""
    version = _deciding_version(client, name)
    builtin = builtin_recipe(name)
    if version is None:
        if builtin is None:
            raise NotTrainableError(
                NO_VERSION,
                f"model {name!r} has no registered version: there is nothing to retrain "
                "(import it with mlops-train import, or train a built-in task)",
            )
        return TrainingPlan(builtin, builtin.spec(name), None)
    number = str(version.version)
    try:
        spec = registry.version_spec(client, version)
    except ModelSpecError as exc:
        raise NotTrainableError(
            INVALID_SPEC,
            f"model {name!r} is not trainable: version {number}'s spec is invalid: {exc}",
        ) from exc
    if spec is None:
        if builtin is None:
            raise NotTrainableError(
                NO_SPEC,
                f"model {name!r} is not trainable: version {number} has no model spec, "
                "so its task is unknown",
            )
        return TrainingPlan(builtin, builtin.spec(name), number)
    if not spec.trainable:
        raise NotTrainableError(
            NOT_TRAINABLE, f"model {name!r} is not trainable: it was imported (no training recipe)"
        )
    recipe = recipe_for_task(spec.task)
    if recipe is None:
        raise NotTrainableError(
            NO_RECIPE,
            f"model {name!r} is not trainable: its task {spec.task!r} has no training recipe",
        )
    return TrainingPlan(recipe, recipe.spec(name), number)


def trained_version(client: MlflowClient, name: str) -> str | None:
    """The newest version of ``name`` that this project trained (spec ``trainable``, or no spec
    at all: a first-wave version), or None when every version was imported (or there is none)."""
    for version in registry.versions_newest_first(client, name):
        try:
            spec = registry.version_spec(client, version)
        except ModelSpecError:
            continue  # not the trainer's: it always writes a valid spec
        if spec is None or spec.trainable:
            return str(version.version)
    return None
