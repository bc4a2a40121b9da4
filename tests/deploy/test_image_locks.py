"""Each image's `pip install --no-deps` set is complete, so `pip check` in the image passes.

The images install requirements/<service>.txt without resolving (the lock is the resolution), then
the two local packages. This test replays that offline: every requirement (markers evaluated for
Linux/CPython 3.11, extras followed) of every distribution in the set must itself be in the set.
Requirement metadata comes from the dev virtualenv, which holds the same pinned versions.
"""

from __future__ import annotations

import re
from importlib import metadata

import pytest
from deploy_checks import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SERVICES = ["gateway", "inference", "trainer", "drift", "frontend"]
ENV = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "python_version": "3.11",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "os_name": "posix",
}


def install_set(service: str) -> dict[str, str]:
    """Canonical name → pinned version of what the image installs."""
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / f"{service}.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    pins[canonicalize_name("mlops-common")] = "local"
    pins[canonicalize_name(f"mlops-{service}")] = "local"
    return pins


def missing_requirements(pins: dict[str, str]) -> list[str]:
    """Requirements of the set's distributions that the set does not contain."""
    missing: list[str] = []
    todo = [(name, "") for name in pins]
    seen: set[tuple[str, str]] = set()
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue  # not in the dev venv (platform-specific); nothing to follow
        for text in requires:
            req = Requirement(text)
            if req.marker and not req.marker.evaluate({**ENV, "extra": extra}):
                continue
            dep = canonicalize_name(req.name)
            if dep not in pins:
                missing.append(f"{name}{f'[{extra}]' if extra else ''} needs {req}")
                continue
            todo.extend((dep, e) for e in req.extras)
    return sorted(set(missing))


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_install_set_is_closed_under_its_requirements(service: str) -> None:
    assert missing_requirements(install_set(service)) == []


def test_a_missing_dependency_would_be_reported() -> None:
    reduced = {k: v for k, v in install_set("gateway").items() if k != "starlette"}
    assert any("needs starlette" in m for m in missing_requirements(reduced))
