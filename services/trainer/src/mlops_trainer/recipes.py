"""The training recipes of the built-in tasks, looked up by a spec's ``task``.

A registered version's spec names its task (``digits``, an imported model's own name...). The
trainer can retrain a model only when its spec says ``trainable`` **and** its task has a recipe
here: the Hydra overrides that select the task's data and network, and the spec a trained version
is registered with (a news version's classes and embedding width come from its data and network:
the pipeline fills them in). ``digits`` trains ``digits-classifier``; ``news`` (Hydra
``task=news``) trains ``news-classifier``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mlops_common.digits_spec import DIGITS_TASK, digits_spec
from mlops_common.model_spec import ModelSpec
from mlops_common.news_spec import BBC_CLASSES, NEWS_MODEL_NAME, NEWS_TASK, news_spec
from mlops_common.registry import MODEL_NAME


def _news_default_spec(name: str) -> ModelSpec:
    """A news model's spec before its first version: the BBC classes, the default width."""
    return news_spec(name, classes=BBC_CLASSES, embedding_dim=64)


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
    NEWS_TASK: Recipe(
        task=NEWS_TASK,
        model=NEWS_MODEL_NAME,
        overrides=(f"task={NEWS_TASK}",),
        spec=_news_default_spec,
    ),
}


def recipe_for_task(task: str) -> Recipe | None:
    """The recipe of ``task``, or None when the trainer cannot train it."""
    return RECIPES.get(task)


def builtin_recipe(model: str) -> Recipe | None:
    """The recipe whose default model is ``model`` (``digits-classifier`` → digits), or None."""
    return next((recipe for recipe in RECIPES.values() if recipe.model == model), None)
