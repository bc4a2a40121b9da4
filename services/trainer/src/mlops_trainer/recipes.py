"""The training recipes of the built-in tasks, looked up by a spec's ``task``.

A registered version's spec names its task (``digits``, an imported model's own name...). The
trainer can retrain a model only when its spec says ``trainable`` **and** its task has a recipe
here: the Hydra overrides that select the task's data and network, and the spec a trained version
is registered with. ``digits`` (model ``digits-classifier``) is the only recipe today; a new
built-in task (``news``) adds one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mlops_common.digits_spec import DIGITS_TASK, digits_spec
from mlops_common.model_spec import ModelSpec
from mlops_common.registry import MODEL_NAME


@dataclass(frozen=True)
class Recipe:
    """How the trainer trains one built-in task."""

    task: str
    #: The registered model the task trains by default (``mlops-train bootstrap`` creates it).
    model: str
    #: Hydra overrides selecting the task, applied before any other (digits: the defaults).
    overrides: tuple[str, ...]
    #: The spec of a trained version registered under a model name.
    spec: Callable[[str], ModelSpec]


RECIPES: Final[dict[str, Recipe]] = {
    DIGITS_TASK: Recipe(task=DIGITS_TASK, model=MODEL_NAME, overrides=(), spec=digits_spec),
}


def recipe_for_task(task: str) -> Recipe | None:
    """The recipe of ``task``, or None when the trainer cannot train it."""
    return RECIPES.get(task)


def builtin_recipe(model: str) -> Recipe | None:
    """The recipe whose default model is ``model`` (``digits-classifier`` → digits), or None."""
    return next((recipe for recipe in RECIPES.values() if recipe.model == model), None)
