"""Which models one server serves: ``INFERENCE_MODELS`` parsed into named sources.

``INFERENCE_MODELS`` is a comma-separated list whose entries are either a bare model name,
served from ``models:/<name>@production``, or a ``name=uri`` pair whose uri is a ``models:/``
registry URI or a path to an ``.onnx`` file (or a folder holding one)::

    INFERENCE_MODELS=digits-classifier,iris=models:/iris-classifier@staging,toy=/models/toy.onnx

Names are what callers put in ``model_name``; they must be unique and look like registry
names (letters, digits, ``.``, ``_``, ``-``). Every mistake raises :class:`ValueError` with a
message that names ``INFERENCE_MODELS`` and the faulty entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlops_common.registry import ALIAS_PRODUCTION

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_REGISTRY_URI = re.compile(r"^models:/[^/@]+(?:@[^/]+|/[^/]+)$")
FIELD = "INFERENCE_MODELS"


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """One served model: the name callers use and the URI (or file path) it is loaded from."""

    name: str
    uri: str


def _check_name(name: str, entry: str, position: int) -> str:
    if not name:
        raise ValueError(f"{FIELD} entry {position} ({entry!r}) has an empty model name")
    if not _NAME.match(name):
        raise ValueError(
            f"{FIELD} entry {position}: model name {name!r} may hold only letters, digits, "
            "'.', '_' and '-' (and must start with a letter or digit)"
        )
    return name


def _parse_entry(entry: str, position: int) -> ModelConfig:
    if not entry:
        raise ValueError(
            f"{FIELD} entry {position} is empty (write names or name=uri pairs separated by commas)"
        )
    if "=" not in entry:
        name = _check_name(entry, entry, position)
        return ModelConfig(name, f"models:/{name}@{ALIAS_PRODUCTION}")
    name, _, uri = (part.strip() for part in entry.partition("="))
    _check_name(name, entry, position)
    if not uri:
        raise ValueError(f"{FIELD} entry {position} ({entry!r}): the uri after '=' is empty")
    if uri.startswith("models:") and not _REGISTRY_URI.match(uri):
        raise ValueError(
            f"{FIELD} entry {position} ({entry!r}): {uri!r} is not a registry URI; write "
            "models:/<name>@<alias> or models:/<name>/<version>"
        )
    return ModelConfig(name, uri)


def parse_models(text: str) -> tuple[ModelConfig, ...]:
    """Parse an ``INFERENCE_MODELS`` value; raises :class:`ValueError` naming the bad entry."""
    entries = [part.strip() for part in text.split(",")]
    models = tuple(_parse_entry(entry, index) for index, entry in enumerate(entries, start=1))
    seen: set[str] = set()
    for model in models:
        if model.name in seen:
            raise ValueError(f"{FIELD} names model {model.name!r} more than once")
        seen.add(model.name)
    return models
