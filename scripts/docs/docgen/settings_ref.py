"""Settings reference: every environment variable a service reads, from its settings class."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from docgen import ROOT, DocGenError
from docgen.text import cell, table

SHARED_MODULE = "mlops_common.settings"
SHARED_CLASS = "ServiceSettings"


def services() -> list[str]:
    """The service names, one per folder under ``services/`` that holds a package."""
    return sorted(p.parents[2].name for p in ROOT.glob("services/*/src/mlops_*/__init__.py"))


def settings_class(service: str) -> type[BaseSettings]:
    """The settings class defined in ``mlops_<service>.settings`` (a ServiceSettings subclass)."""
    module_name = f"mlops_{service}.settings"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DocGenError(
            f"cannot import {module_name} ({exc}); every service defines its settings class "
            "there (ARCHITECTURE.md: one pydantic-settings class per service)"
        ) from exc
    base = _shared_class()
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, base)
        and obj is not base
        and obj.__module__ == module_name
    ]
    if len(found) != 1:
        names = [cls.__name__ for cls in found] or "none"
        raise DocGenError(
            f"{module_name} must define exactly one ServiceSettings subclass, found {names}"
        )
    return found[0]


def _shared_class() -> type[BaseSettings]:
    module = importlib.import_module(SHARED_MODULE)
    cls: type[BaseSettings] = getattr(module, SHARED_CLASS)
    return cls


def env_name(name: str, field: FieldInfo, prefix: str) -> str:
    """The environment variable a field is read from (its alias, or prefix + name)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        for choice in alias.choices:
            if isinstance(choice, str) and choice.isupper():
                return choice
    if isinstance(alias, str):
        return alias.upper()
    return f"{prefix}{name}".upper()


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        try:
            value: Any = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    else:
        value = field.get_default()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if inspect.isclass(annotation) else None
    text = text or str(annotation)
    for noise in ("typing.", "pathlib.", "<class '", "'>", "Annotated[", ", NoDecode]"):
        text = text.replace(noise, "")
    return text.replace("NoneType", "None")


def fields_table(cls: type[BaseSettings], *, own_only: bool) -> str:
    """A markdown table of ``cls``'s fields: variable, type, default, description."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    shared = set(_shared_class().model_fields) if own_only else set()
    rows = []
    for name, field in cls.model_fields.items():
        if name in shared or _nested(field) is not None:
            continue
        if not field.description:
            raise DocGenError(
                f"{cls.__module__}.{cls.__name__}.{name} has no description: every settings "
                "field is documented (Field(description=...))"
            )
        rows.append(
            [
                f"`{env_name(name, field, prefix)}`",
                cell(f"`{_type_name(field.annotation)}`"),
                cell(f"`{_default(field)}`") if _default(field) else "",
                cell(field.description),
            ]
        )
    if not rows:
        return "*This service adds no settings of its own.*\n"
    return table(["Variable", "Type", "Default", "Description"], rows)


def _nested(field: FieldInfo) -> type[BaseSettings] | None:
    """The settings class a field holds (a group of settings with its own prefix), if any."""
    annotation = field.annotation
    if inspect.isclass(annotation) and issubclass(annotation, BaseSettings):
        return annotation
    return None


def service_settings(service: str) -> str:
    """The settings section of one service's page (a nested settings group gets its own table)."""
    cls = settings_class(service)
    prefix = cls.model_config.get("env_prefix", "")
    intro = (
        f"Read from the environment by `{cls.__module__}.{cls.__name__}` "
        f"(prefix `{prefix}`), plus the [shared settings](../reference/settings.md).\n\n"
    )
    doc = inspect.getdoc(cls)
    text = intro + (f"{doc}\n\n" if doc else "") + fields_table(cls, own_only=True)
    for field in cls.model_fields.values():
        group = _nested(field)
        if group is not None:
            text += (
                f"\n{field.description} Read by `{group.__module__}.{group.__name__}` "
                f"(prefix `{group.model_config.get('env_prefix', '')}`):\n\n"
                + fields_table(group, own_only=True)
            )
    return text


def shared_settings() -> str:
    """The table of the settings every service shares (no prefix)."""
    return fields_table(_shared_class(), own_only=False)


def all_services_index() -> str:
    """One line per service: its settings class and prefix."""
    rows = []
    for service in services():
        cls = settings_class(service)
        rows.append(
            [
                f"[{service}](../services/{service}.md#settings)",
                f"`{cls.__module__}.{cls.__name__}`",
                f"`{cls.model_config.get('env_prefix', '')}`",
                str(len(set(cls.model_fields) - set(_shared_class().model_fields))),
            ]
        )
    return table(["Service", "Settings class", "Prefix", "Own settings"], rows)
