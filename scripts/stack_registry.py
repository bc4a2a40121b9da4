"""Which models ``make up`` serves: the registered models with a ``production`` alias.

``scripts/stack.py`` reads them from the local MLflow store once, before any process starts, and
passes them to inference as ``INFERENCE_MODELS``: the built-in tasks' models first
(``digits-classifier``, ``news-classifier``; bootstrapped when missing), then the others.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

DEFAULT_MODEL = "digits-classifier"
#: The models of the built-in tasks (``mlops-train bootstrap`` trains each one that is missing).
BUILTIN_MODELS = (DEFAULT_MODEL, "news-classifier")
PRODUCTION = "production"


def production_models(db_path: Path) -> list[str]:
    """Sorted names of the registered models that have a ``production`` alias.

    Read from the local MLflow store before its server starts (no server, no ``mlflow`` import:
    a few milliseconds); an empty list when the store does not exist yet (first start). If the
    store's tables are not the expected ones (another MLflow version), ``MlflowClient`` reads it.
    """
    if not db_path.exists():
        return []
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
        ) as db:
            rows = db.execute(
                "SELECT DISTINCT name FROM registered_model_aliases WHERE alias = ?",
                (PRODUCTION,),
            ).fetchall()
    except sqlite3.Error:
        return production_models_from_client(f"sqlite:///{db_path}")
    return sorted(str(name) for (name,) in rows)


def production_models_from_client(registry_uri: str) -> list[str]:
    """Sorted names of the models with a ``production`` alias, through ``MlflowClient``."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=registry_uri, registry_uri=registry_uri)
    names: list[str] = []
    token: str | None = None
    while True:
        page = client.search_registered_models(max_results=100, page_token=token)
        names += [model.name for model in page if PRODUCTION in (model.aliases or {})]
        token = page.token
        if not token:
            return sorted(names)


def served_models(registered: Iterable[str]) -> list[str]:
    """The built-in models first (bootstrapped when missing), then the others, by name."""
    return [*BUILTIN_MODELS, *sorted(set(registered) - set(BUILTIN_MODELS))]
