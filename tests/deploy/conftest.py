"""Fixtures of the deployment tests: tool lookup, rendered chart and kustomize overlays.

Every tool these tests need is installed by scripts/tools/install-deploy-tools.sh. A missing tool
fails the test with that instruction (never a silent skip): CI must run the install script.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Test modules import the shared helpers as `deploy_checks` (importlib import mode adds no paths).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploy_checks import OVERLAYS_DIR, RENDERS, find_tool, helm_template, load_all, run


@pytest.fixture(scope="session")
def rendered() -> Callable[[str], list[dict[str, Any]]]:
    """Objects of a named render (RENDERS), rendered once per session."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def get(name: str) -> list[dict[str, Any]]:
        if name not in cache:
            values, sets = RENDERS[name]
            result = helm_template(values, sets)
            assert result.returncode == 0, result.stderr
            cache[name] = load_all(result.stdout)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def built() -> Callable[[str], list[dict[str, Any]]]:
    """Objects of `kubectl kustomize deploy/k8s/overlays/<name>`, built once per session."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def get(name: str) -> list[dict[str, Any]]:
        if name not in cache:
            result = run([find_tool("kubectl"), "kustomize", str(OVERLAYS_DIR / name)])
            assert result.returncode == 0, result.stderr
            cache[name] = load_all(result.stdout)
        return cache[name]

    return get
