"""Dockerfiles: hadolint-clean, one recipe for every service, multi-stage, slim, non-root,
health-checked, locked installs, buildable by the classic builder and any BuildKit.

`make test-images` builds and runs them for real; these checks are the offline half.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deploy_checks import ROOT, find_tool, run

SERVICES = ["gateway", "inference", "trainer", "drift", "frontend"]
SERVICE_DOCKERFILE = ROOT / "deploy/docker/Dockerfile"
DOCKERFILES = [SERVICE_DOCKERFILE, ROOT / "deploy/mlflow/Dockerfile"]
HOSTS = {
    "gateway": "GATEWAY_HOST",
    "inference": "INFERENCE_HOST",
    "drift": "DRIFT_HOST",
    "frontend": "FRONTEND_HOST",
    "trainer": "TRAINER_WORKER_METRICS_HOST",
}


def stages(text: str) -> dict[str, str]:
    """Stage name → its instructions (from its FROM line to the next FROM)."""
    found: dict[str, str] = {}
    parts = re.split(r"^(?=FROM )", text, flags=re.M)
    for part in parts[1:]:
        named = re.match(r"FROM \S+ AS (\w+)", part)
        found[named.group(1) if named else "final"] = part
    return found


@pytest.fixture(scope="module")
def recipe() -> str:
    return SERVICE_DOCKERFILE.read_text()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    result = run([find_tool("hadolint"), "--no-color", str(dockerfile)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_recipe_for_every_service() -> None:
    """No per-service Dockerfile: the five images come from deploy/docker/Dockerfile."""
    assert sorted(ROOT.glob("services/*/Dockerfile")) == []
    assert sorted(p.parent.name for p in (ROOT / "deploy").glob("*/Dockerfile")) == [
        "docker",
        "mlflow",
    ]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_no_syntax_directive_and_no_buildkit_only_instruction(dockerfile: Path) -> None:
    """A `# syntax=` line makes BuildKit pull a frontend image before building anything (fails
    offline or behind a mirror); RUN --mount and heredocs need BuildKit."""
    text = dockerfile.read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, flags=re.M | re.I)
    assert "--mount=" not in text
    assert "<<" not in text


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_multi_stage_slim_non_root_with_healthcheck(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, flags=re.M)
    assert len(re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS (build|runtime)$", text, flags=re.M)) == 2
    assert re.search(r"^USER 10001:10001$", text, flags=re.M)
    assert re.search(r"^HEALTHCHECK ", text, flags=re.M)
    assert "COPY --from=build /opt/venv /opt/venv" in text
    # Debian's python is python3 only: the venv is made with python3 (then `python` is the venv's)
    assert "python3 -m venv /opt/venv" in text
    assert not re.search(r"RUN .*(?<![\w/])python -m venv", text)
    # the runtime stage starts from the slim base and never runs as root after USER
    runtime = text.split("AS runtime", 1)[1]
    assert runtime.index("USER 10001") > runtime.rindex("RUN ")


def test_each_service_has_its_stage_and_the_build_arg_picks_it(recipe: str) -> None:
    found = stages(recipe)
    for service in SERVICES:
        stage = found[service]
        assert stage.startswith(f"FROM runtime AS {service}\n"), service
        assert re.search(r"^HEALTHCHECK .*\n\s+CMD ", stage, flags=re.M), service
        assert re.search(r"^CMD \[", stage, flags=re.M), service
        assert "USER" not in stage, service
        assert "RUN " not in stage, service
    assert re.search(r"^ARG SERVICE=", recipe, flags=re.M)
    assert found["final"].strip().endswith("FROM ${SERVICE}")
    # the build refuses a SERVICE that names no service
    allowed = re.search(r'case "\$SERVICE" in ([\w|]+)\)', recipe)
    assert allowed is not None
    assert sorted(allowed.group(1).split("|")) == sorted(SERVICES)


def test_each_image_installs_only_its_own_locked_set(recipe: str) -> None:
    build = stages(recipe)["build"]
    assert "COPY requirements/${SERVICE}.txt requirements/${SERVICE}.txt" in build
    assert "--no-deps" in build
    assert "pip check" in build
    assert './libs/common "./services/$SERVICE"' in build
    copied = set(re.findall(r"^COPY (?!--from)(.+) \S+$", recipe, flags=re.M))
    sources = {s for line in copied for s in line.split()}
    services = {s for s in sources if s.startswith("services/")}
    assert services == {"services/${SERVICE}", "services/trainer/conf"}, services
    assert "COPY services/trainer/conf" in stages(recipe)["trainer"]
    for service in SERVICES:
        assert (ROOT / "requirements" / f"{service}.txt").is_file()


@pytest.mark.parametrize("service", ["gateway", "inference", "drift", "frontend"])
def test_no_torch_outside_the_trainer(recipe: str, service: str) -> None:
    """torch is installed only when the service's lock pins it, and only the trainer's does."""
    build = stages(recipe)["build"]
    assert re.search(r"if grep -q '\^torch==' \"requirements/\$SERVICE\.txt\"; then", build)
    pins = (ROOT / "requirements" / f"{service}.txt").read_text()
    assert not re.search(r"^torch==", pins, flags=re.M)
    assert "torch" not in stages(recipe)[service]


def test_trainer_installs_cpu_torch_from_the_pytorch_index(recipe: str) -> None:
    build = stages(recipe)["build"]
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in build
    assert '--index-url "$TORCH_INDEX_URL"' in build
    assert re.search(r"^torch==", (ROOT / "requirements/trainer.txt").read_text(), flags=re.M)
    assert "TRAINER_CONF_DIR=/opt/mlops/conf" in stages(recipe)["trainer"]


@pytest.mark.parametrize(("service", "variable"), HOSTS.items())
def test_each_image_opens_the_loopback_default_to_the_pod_network(
    recipe: str, service: str, variable: str
) -> None:
    """The services bind 127.0.0.1 unless told otherwise; in a container nothing outside could
    reach that, so each service's stage sets its host to 0.0.0.0 (and no other service's)."""
    stage = stages(recipe)[service]
    assert re.search(rf"^(ENV |\s+){variable}=0\.0\.0\.0\b", stage, flags=re.M), variable
    others = [v for s, v in HOSTS.items() if s != service]
    assert not any(f"{v}=" in stage for v in others)


def _docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex over context-relative paths (Go's filepath.Match plus
    `**`, anchored at the context root, as Docker reads it)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(p.fullmatch(prefix) for p in map(_docker_pattern, patterns) for prefix in prefixes)


def test_dockerignore_is_an_exclude_list_that_keeps_the_context_small() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # no re-include: the classic builder and Docker 20.10's BuildKit drop files re-included
    # under an excluded folder (services/*/src was lost that way)
    assert not [line for line in lines if line.startswith("!")]
    for kept in (
        "requirements/gateway.txt",
        "requirements/trainer.txt",
        "libs/common/pyproject.toml",
        "libs/common/src/mlops_common/__init__.py",
        "services/gateway/pyproject.toml",
        "services/gateway/src/mlops_gateway/__init__.py",
        "services/trainer/conf/config.yaml",
        "deploy/docker/healthcheck.py",
        "deploy/docker/precompile.py",
        "deploy/docker/slim-venv.sh",
        "deploy/mlflow/requirements.txt",
    ):
        assert (ROOT / kept).exists(), kept
        assert not _ignored(kept, lines), kept
    for left_out in (
        ".git/HEAD",
        ".venv/bin/python",
        ".state/mlflow/mlflow.db",
        "services/gateway/tests/unit/test_app.py",
        "libs/common/src/mlops_common/__pycache__/x.pyc",
        "services/frontend/node_modules/x/index.js",
        "tests/e2e/test_loop.py",
        "docs/index.md",
        "benchmarks/results/x.json",
        "data/digits.csv",
        "deploy/helm/mlops/values.yaml",
        ".mypy_cache/x.json",
    ):
        assert _ignored(left_out, lines), left_out


def test_the_dockerignore_matcher_reads_patterns_as_docker_does() -> None:
    assert _ignored("a/b/tests/c.py", ["**/tests"])
    assert _ignored("tests/c.py", ["**/tests"])
    assert not _ignored("services/x/README.md", ["*.md"])
    assert _ignored("README.md", ["*.md"])
    assert not _ignored("services/gateway/src/x.py", ["services/*/tests"])
