"""Each image's `pip install --no-deps` set is complete, so `pip check` in the image passes.

The images install requirements/<service>.txt without resolving (the lock is the resolution), then
the two local packages. This test replays that offline: every requirement (markers evaluated for
Linux/CPython, extras followed) of every distribution in the set must itself be in the set.
Requirement metadata comes from the dev virtualenv, which holds the same pinned versions.

The markers are evaluated for the first and a later 3.11 release, not only for the Python that ran
pip-compile: redis needs async-timeout below 3.11.3, so a lock made on 3.11.7 without it fails
`pip check` on Debian 12's python3 (3.11.2). scripts/lock.sh adds such pins with their marker.
"""

from __future__ import annotations

import re
from importlib import metadata

import pytest
from deploy_checks import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SERVICES = ["gateway", "inference", "trainer", "drift", "frontend"]
#: The 3.11 releases the locks must hold for: the first one, Debian 12's, and a recent one.
PYTHONS = ["3.11.0", "3.11.2", "3.11.14"]
ENV = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "python_version": "3.11",
    "platform_python_implementation": "CPython",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "os_name": "posix",
}


def install_set(lock: str) -> dict[str, str]:
    """Canonical name → pinned version of what requirements/<lock>.txt installs (its editable
    local packages as version "local")."""
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / f"{lock}.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
        local = re.match(r"^-e file:(?:libs|services)/([a-z_-]+)$", line)
        if local:
            pins[canonicalize_name(f"mlops-{local.group(1)}")] = "local"
    return pins


def left_out() -> dict[str, set[str]]:
    """Service → the pins of its lock its image leaves out (deploy/docker/leave-out.txt)."""
    found: dict[str, set[str]] = {}
    for line in (ROOT / "deploy/docker/leave-out.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            service, package = line.split()
            found.setdefault(service, set()).add(canonicalize_name(package))
    return found


def image_set(service: str) -> dict[str, str]:
    """What the service's image installs: its lock less the pins leave-out.txt names."""
    leave = left_out().get(service, set())
    return {name: v for name, v in install_set(service).items() if name not in leave}


def missing_requirements(
    pins: dict[str, str], python: str = PYTHONS[0], optional: frozenset[str] = frozenset()
) -> list[str]:
    """Requirements of the set's distributions that the set does not contain, on Python `python`
    (a full version: markers may name python_full_version). A package in `optional` may be
    missing where only an extra asks for it (``pandas[parquet]`` → pyarrow)."""
    env = {**ENV, "python_full_version": python}
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
            if req.marker and not req.marker.evaluate({**env, "extra": extra}):
                continue
            dep = canonicalize_name(req.name)
            if dep in optional and extra:
                continue
            if dep not in pins:
                missing.append(f"{name}{f'[{extra}]' if extra else ''} needs {req}")
                continue
            todo.extend((dep, e) for e in req.extras)
    return sorted(set(missing))


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("lock", [*SERVICES, "dev"])
def test_the_install_set_is_closed_under_its_requirements(lock: str, python: str) -> None:
    assert missing_requirements(install_set(lock), python) == []


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("service", SERVICES)
def test_the_image_set_is_closed_but_for_optional_extras(service: str, python: str) -> None:
    """The image leaves out only what an extra alone asks for (deploy/docker/leave-out.txt)."""
    leave = frozenset(left_out().get(service, set()))
    assert missing_requirements(image_set(service), python, leave) == []
    for message in missing_requirements(image_set(service), python):
        assert re.match(r"^\S+\[\w[\w-]*\] needs ", message), message  # via an extra


def test_left_out_packages_are_pinned_and_never_imported_by_the_service() -> None:
    leaves = left_out()
    assert set(leaves) <= set(SERVICES)
    for service, packages in leaves.items():
        assert packages <= set(install_set(service)), (service, packages)
        for package in packages:
            importing = re.compile(rf"^\s*(import|from)\s+{package.replace('-', '_')}\b", re.M)
            for folder in (ROOT / "libs/common/src", ROOT / "services" / service / "src"):
                for source in folder.rglob("*.py"):
                    assert not importing.search(source.read_text()), (source, package)


def test_each_image_set_holds_its_local_packages() -> None:
    for service in SERVICES:
        assert {"mlops-common", f"mlops-{service}"} <= set(install_set(service)), service


def test_a_missing_dependency_would_be_reported() -> None:
    reduced = {k: v for k, v in install_set("gateway").items() if k != "starlette"}
    assert any("needs starlette" in m for m in missing_requirements(reduced))


def test_a_requirement_of_an_older_python_only_would_be_reported() -> None:
    """redis needs async-timeout before Python 3.11.3 only: a lock without it holds on 3.11.7
    (where pip-compile ran) and fails on Debian 12's 3.11.2."""
    reduced = {k: v for k, v in install_set("gateway").items() if k != "async-timeout"}
    assert missing_requirements(reduced, "3.11.14") == []
    assert any("needs async-timeout" in m for m in missing_requirements(reduced, "3.11.2"))
