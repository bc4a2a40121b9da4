"""Dockerfiles: hadolint-clean, multi-stage, slim, non-root, health-checked, locked installs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deploy_checks import ROOT, find_tool, run

SERVICES = ["gateway", "inference", "trainer", "drift", "frontend"]
DOCKERFILES = [ROOT / "services" / s / "Dockerfile" for s in SERVICES] + [
    ROOT / "deploy/mlflow/Dockerfile"
]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    result = run([find_tool("hadolint"), "--no-color", str(dockerfile)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_multi_stage_slim_non_root_with_healthcheck(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert len(re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS \w+$", text, flags=re.M)) == 2
    assert re.search(r"^USER 10001:10001$", text, flags=re.M)
    assert re.search(r"^HEALTHCHECK ", text, flags=re.M)
    assert "COPY --from=build /opt/venv /opt/venv" in text
    # the runtime stage starts from the slim base and never runs as root after USER
    runtime = text.split("AS runtime", 1)[1]
    assert runtime.index("USER 10001") > runtime.rindex("RUN ")


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_installs_only_its_own_locked_set(service: str) -> None:
    text = (ROOT / "services" / service / "Dockerfile").read_text()
    assert f"COPY requirements/{service}.txt requirements/{service}.txt" in text
    assert "--no-deps" in text
    assert f"./libs/common ./services/{service}" in text
    copied = set(re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.M))
    others = {f"services/{s}" for s in SERVICES if s != service}
    assert not copied & others, copied
    assert (ROOT / "requirements" / f"{service}.txt").is_file()


@pytest.mark.parametrize("service", ["gateway", "inference", "drift", "frontend"])
def test_no_torch_outside_the_trainer(service: str) -> None:
    assert "torch" not in (ROOT / "services" / service / "Dockerfile").read_text()
    pins = (ROOT / "requirements" / f"{service}.txt").read_text()
    assert not re.search(r"^torch==", pins, flags=re.M)


def test_trainer_installs_cpu_torch_from_the_pytorch_index() -> None:
    text = (ROOT / "services/trainer/Dockerfile").read_text()
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in text
    assert '--index-url "$TORCH_INDEX_URL"' in text
    assert "TRAINER_CONF_DIR=/opt/mlops/conf" in text


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("**")] == "**"
    for needed in (
        "!requirements/*.txt",
        "!libs/common/src/**",
        "!services/*/src/**",
        "!deploy/docker/healthcheck.py",
    ):
        assert needed in lines


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("gateway", "GATEWAY_HOST"),
        ("inference", "INFERENCE_HOST"),
        ("drift", "DRIFT_HOST"),
        ("frontend", "FRONTEND_HOST"),
        ("trainer", "TRAINER_WORKER_METRICS_HOST"),
    ],
)
def test_each_image_opens_the_loopback_default_to_the_pod_network(
    service: str, variable: str
) -> None:
    """The services bind 127.0.0.1 unless told otherwise; in a container nothing outside could
    reach that, so each runtime image sets its service's host to 0.0.0.0."""
    runtime = (ROOT / "services" / service / "Dockerfile").read_text().split("AS runtime", 1)[1]
    assert re.search(rf"^\s+{variable}=0\.0\.0\.0\b", runtime, flags=re.M), variable
