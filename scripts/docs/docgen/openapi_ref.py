"""HTTP API reference: the OpenAPI document of a service's FastAPI app, as JSON and markdown.

The app is built exactly as the service builds it, ``create_app(settings)`` with the service's
settings class at its defaults, without running its lifespan (nothing connects anywhere), and
its ``openapi()`` document is rendered: one section per operation, one table per schema.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from docgen import DocGenError
from docgen.settings_ref import settings_class
from docgen.text import cell, slug, table

#: The services that serve a FastAPI app (ARCHITECTURE.md).
HTTP_SERVICES = ("gateway", "drift")
_FACTORY_MODULES = ("app", "main", "")
_METHODS = ("get", "post", "put", "patch", "delete")

Schema = dict[str, Any]


def openapi_document(service: str) -> Schema:
    """Build ``mlops_<service>``'s app with default settings and return its OpenAPI document."""
    factory = _find_factory(service)
    settings = settings_class(service)()
    try:
        app = factory(settings)
        document: Schema = app.openapi()
    except Exception as exc:
        raise DocGenError(
            f"mlops_{service}: create_app(settings) or app.openapi() failed: {exc!r}"
        ) from exc
    if not document.get("paths"):
        raise DocGenError(f"mlops_{service}: the OpenAPI document has no paths")
    return document


def _find_factory(service: str) -> Any:
    tried = []
    for suffix in _FACTORY_MODULES:
        name = f"mlops_{service}.{suffix}" if suffix else f"mlops_{service}"
        tried.append(f"{name}:create_app")
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise DocGenError(f"cannot import {name}: {exc}") from exc
        except ImportError as exc:
            raise DocGenError(f"cannot import {name}: {exc}") from exc
        factory = getattr(module, "create_app", None)
        if callable(factory):
            return factory
    raise DocGenError(
        f"no app factory for {service}: looked for {', '.join(tried)} "
        "(ARCHITECTURE.md: each HTTP service has create_app(settings))"
    )


def openapi_json(service: str) -> str:
    """The OpenAPI document as indented JSON."""
    return json.dumps(openapi_document(service), indent=2, sort_keys=False) + "\n"


def type_of(schema: Schema) -> str:
    """A short human-readable type for a JSON schema."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f"[{name}](#{slug(name)})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " or ".join(type_of(s) for s in schema[key])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_of(schema['additionalProperties'])}"
    return str(kind)


def _body(content: Schema | None) -> str:
    if not content:
        return ""
    return ", ".join(
        f"`{media}` {type_of(spec.get('schema', {}))}" for media, spec in content.items()
    )


def _operation(path: str, method: str, op: Schema) -> str:
    parts = [f"### `{method.upper()} {path}`\n"]
    if op.get("summary"):
        parts.append(f"**{cell(op['summary'])}**\n")
    if op.get("description"):
        parts.append(op["description"].strip() + "\n")
    params = op.get("parameters", [])
    if params:
        rows = [
            [
                f"`{p['name']}`",
                p.get("in", ""),
                type_of(p.get("schema", {})),
                "yes" if p.get("required") else "no",
                cell(p.get("description", "")),
            ]
            for p in params
        ]
        parts.append(table(["Parameter", "In", "Type", "Required", "Description"], rows))
    if "requestBody" in op:
        parts.append(f"Request body: {_body(op['requestBody'].get('content'))}\n")
    responses = [
        [f"`{status}`", cell(resp.get("description", "")), _body(resp.get("content"))]
        for status, resp in op.get("responses", {}).items()
    ]
    if responses:
        parts.append(table(["Status", "Meaning", "Body"], responses))
    return "\n".join(parts)


def _schema_section(name: str, schema: Schema) -> str:
    parts = [f"### {name}\n"]
    if schema.get("description"):
        parts.append(cell(schema["description"]) + "\n")
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    if props:
        rows = [
            [
                f"`{prop}`",
                type_of(spec),
                "yes" if prop in required else "no",
                cell(spec.get("description", "")),
            ]
            for prop, spec in props.items()
        ]
        parts.append(table(["Field", "Type", "Required", "Description"], rows))
    elif "enum" in schema:
        parts.append(f"One of {type_of(schema)}.\n")
    return "\n".join(parts)


def openapi_markdown(service: str, json_name: str) -> str:
    """The API reference of one service: an index, every operation, every schema."""
    document = openapi_document(service)
    info = document.get("info", {})
    out = [
        f"Generated from `mlops_{service}`'s `create_app(settings).openapi()` "
        f"({info.get('title', service)} {info.get('version', '')}); "
        f"the raw document: [{json_name}]({json_name}).\n",
    ]
    operations = [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in _METHODS
    ]
    out.append(
        table(
            ["Method", "Path", "Summary"],
            [[m.upper(), f"`{p}`", cell(op.get("summary", ""))] for p, m, op in operations],
        )
    )
    out.append("## Operations\n")
    out += [_operation(p, m, op) for p, m, op in operations]
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        out.append("## Schemas\n")
        out += [_schema_section(name, schemas[name]) for name in sorted(schemas)]
    return "\n".join(out)
