"""The locks install on a user's machine, not only on this one; `make setup` checks Python first.

A lock that holds a local version label (``torch==2.13.0+cpu``) or a file path resolves only where
that build or that file happens to be; a service lock that disagrees with ``dev.txt`` builds an
image that differs from what the tests ran.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = sorted((ROOT / "requirements").glob("*.txt"))
#: The only non-pin lines a lock may hold: the monorepo's own packages, installed editable.
LOCAL_PACKAGE = re.compile(r"^-e file:(libs|services)/[a-z_-]+$")
CHECK_PYTHON = ROOT / "scripts/tools/check-python.sh"
SUPPORTED = "3.11 3.12 3.13"

pytestmark = pytest.mark.unit


def requirement_lines(lock: Path) -> list[str]:
    """The lines of ``lock`` that say what to install (comments and blanks left out)."""
    lines = (line.split(" #", 1)[0].strip() for line in lock.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pins(lock: Path) -> dict[str, str]:
    """Canonical name → pinned version of every third-party line of ``lock``."""
    found: dict[str, str] = {}
    for line in requirement_lines(lock):
        if LOCAL_PACKAGE.match(line):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        found[canonicalize_name(req.name)] = spec.version
    return found


def lock_problems(lock: Path) -> list[str]:
    """Every line of ``lock`` that would not install the same way on another machine."""
    problems: list[str] = []
    for line in requirement_lines(lock):
        if LOCAL_PACKAGE.match(line):
            continue
        if line.startswith("-"):
            problems.append(f"{line!r}: an option (index, find-links, path) in a lock")
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            problems.append(f"{line!r}: {exc}")
            continue
        specs = list(req.specifier)
        if req.url or "/" in line or "file:" in line:
            problems.append(f"{line!r}: a path or URL, which only one machine can serve")
        elif len(specs) != 1 or specs[0].operator != "==":
            problems.append(f"{line!r}: not pinned with ==")
        elif "+" in specs[0].version:
            problems.append(
                f"{line!r}: a local version label, served only by the index that built it"
            )
    return problems


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_lock_lines_install_anywhere(lock: Path) -> None:
    assert lock_problems(lock) == []


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(
        "-e file:libs/common\n"
        "torch==2.13.0+cpu\n"
        "foo @ file:///opt/wheels/foo-1.0-py3-none-any.whl\n"
        "--extra-index-url https://example.invalid/simple\n"
        "bar>=1\n"
        "baz==2.0  # via qux\n"
    )
    problems = lock_problems(bad)
    assert len(problems) == 4
    assert any("local version label" in p for p in problems)
    assert any("path or URL" in p for p in problems)
    assert any("an option" in p for p in problems)
    assert any("not pinned" in p for p in problems)


def test_constraints_are_dev_without_the_local_packages() -> None:
    dev = pins(ROOT / "requirements/dev.txt")
    assert pins(ROOT / "requirements/constraints.txt") == dev
    assert dev["torch"] == "2.13.0"


@pytest.mark.parametrize(
    "service", ["gateway", "inference", "trainer", "drift", "frontend"], ids=str
)
def test_service_locks_pin_what_dev_pins(service: str) -> None:
    dev = pins(ROOT / "requirements/dev.txt")
    own = pins(ROOT / f"requirements/{service}.txt")
    disagree = {name: (v, dev.get(name)) for name, v in own.items() if dev.get(name) != v}
    assert disagree == {}, f"{service}.txt vs dev.txt (service, dev): {disagree}"


def check_python(python: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [shutil.which("bash") or "bash", str(CHECK_PYTHON), python, SUPPORTED],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )


def bare_path(folder: Path) -> str:
    """A PATH of ``folder`` plus the few tools the check uses, and no Python of the machine's."""
    tools = folder / "tools"
    tools.mkdir()
    for tool in ("sed", "awk"):
        found = shutil.which(tool)
        assert found is not None
        (tools / tool).symlink_to(found)
    return f"{folder}:{tools}"


def fake_python(folder: Path, name: str, version: str) -> Path:
    """An executable that answers the version probe as Python ``version`` would."""
    script = folder / name
    script.write_text(
        f'#!/bin/sh\n[ "$1" = "-c" ] && case "$2" in *version_info*) echo {version};; esac\n'
    )
    script.chmod(0o755)
    return script


def test_the_running_interpreter_is_supported() -> None:
    result = check_python(sys.executable)
    assert result.returncode == 0, result.stderr


def test_an_unsupported_python_stops_with_what_to_do(tmp_path: Path) -> None:
    newer = fake_python(tmp_path, "python3", "3.14")
    fake_python(tmp_path, "python3.12", "3.12")
    result = check_python(str(newer), path=bare_path(tmp_path))
    assert result.returncode == 1
    assert "is Python 3.14" in result.stderr
    assert "3.11, 3.12 or 3.13" in result.stderr
    assert "PYTHON=python3.12 make setup" in result.stderr


def test_a_missing_python_names_how_to_install_one(tmp_path: Path) -> None:
    result = check_python("python3.11", path=bare_path(tmp_path))
    assert result.returncode == 1
    assert "cannot run 'python3.11'" in result.stderr
    assert "pyenv install 3.11" in result.stderr
