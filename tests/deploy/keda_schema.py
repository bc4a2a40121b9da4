"""KEDA's ScaledObject schema, vendored (schemas/keda.sh_scaledobjects.yaml), for offline checks.

The CRD's openAPIV3Schema is checked with `jsonschema` as the API server would with strict field
validation (kubectl's default): an object schema that lists its properties admits no others
unless it says `x-kubernetes-preserve-unknown-fields`. Only `spec` is checked this way; metadata
is ObjectMeta, which kubernetes-validate covers for the built-in kinds.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

CRD = Path(__file__).resolve().parent / "schemas" / "keda.sh_scaledobjects.yaml"
API_VERSION = "keda.sh/v1alpha1"


def _strict(schema: Any) -> Any:
    """The schema with additionalProperties: false wherever properties are listed alone."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        listed = "properties" in schema and "additionalProperties" not in schema
        if listed and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [_strict(item) for item in schema]
    return schema


@cache
def scaledobject_schema() -> dict[str, Any]:
    """The strict JSON schema of a ScaledObject's spec (the served v1alpha1 version)."""
    crd = next(doc for doc in yaml.safe_load_all(CRD.read_text()) if doc)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    spec = copy.deepcopy(version["schema"]["openAPIV3Schema"]["properties"]["spec"])
    return dict(_strict(spec))


def scaledobject_errors(obj: dict[str, Any]) -> list[str]:
    """Schema errors of one ScaledObject (empty when valid)."""
    try:
        import jsonschema
    except ImportError:
        pytest.fail("jsonschema is not installed (requirements/dev.txt)", pytrace=False)
    name = f"ScaledObject/{obj.get('metadata', {}).get('name')}"
    errors = []
    if obj.get("apiVersion") != API_VERSION:
        errors.append(f"{name}: apiVersion {obj.get('apiVersion')!r} is not {API_VERSION}")
    if not obj.get("metadata", {}).get("name"):
        errors.append(f"{name}: no metadata.name")
    validator = jsonschema.Draft7Validator(scaledobject_schema())
    for error in validator.iter_errors(obj.get("spec")):
        where = "/".join(map(str, error.absolute_path))
        errors.append(f"{name}: {error.message} at spec/{where}")
    return errors
