"""Every image built on a real Docker engine, and the compose platform run from them.

Run by `make test-images` (scripts/tools/test-images.sh: engine, base image), never by `make test`.
Checks, in order: each image builds from a small context; the size budgets; a rebuild with no
change takes seconds (the layer cache works); each image runs as user 10001 with a HEALTHCHECK and
only the trainer carries torch (a CPU build); then, with docker-compose.yaml's services (see
images.py for what the test changes and leaves out): each container healthy, a prediction through
the gateway, that traffic reaching drift (its window grows, a check and its Evidently report run
in the container), a retraining job queued through the gateway's admin API finishing and its new
version served by inference. Teardown leaves no container and no volume.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from images import (
    IMAGES,
    PROJECT,
    SKIPPED,
    Build,
    Platform,
    build,
    build_redis,
    derive,
    docker,
    image_ref,
    resolved_compose,
)

pytestmark = [pytest.mark.slow]

T = TypeVar("T")
MB = 1_000_000
#: Image size budgets (bytes, as `docker image inspect -f '{{.Size}}'` counts them) on the local
#: Debian 12 base. gateway, inference: the issue's 350 MB. drift: what Evidently 0.7's required
#: dependencies weigh (pandas, scipy, scikit-learn, statsmodels, plotly, nltk, litestar...; see
#: docs/deployment.md "Image sizes"), kept from growing. trainer, frontend, mlflow: no budget
#: asked; a bound against accidents (a CUDA torch would be gigabytes).
BUDGETS = {
    "gateway": 350 * MB,
    "inference": 350 * MB,
    "drift": 850 * MB,
    "frontend": 600 * MB,
    "trainer": 2000 * MB,
    "mlflow": 1100 * MB,
}
CONTEXT_BUDGET = 10 * MB
NOOP_REBUILD_BUDGET_S = 30.0
#: The loop runs fast here: frequent drift checks and registry polls, a small drift window.
EXTRA_ENV = {
    "drift": {
        "DRIFT_CHECK_INTERVAL_S": "3",
        "DRIFT_MIN_WINDOW_SIZE": "100",
        "DRIFT_MIN_NEW_ROWS": "20",
    },
    "inference": {"INFERENCE_POLL_INTERVAL_S": "3"},
    "gateway": {"LOG_LEVEL": "WARNING"},
}
RETRAIN_OVERRIDES = ["trainer=fast", "registry.margin=-1"]  # short, and promoted whatever it scores


def poll(what: str, probe: Callable[[], T | None], timeout: float, every: float = 2.0) -> T:
    """The first truthy answer of `probe` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: nothing within {timeout:.0f} s (last: {last!r})")


@pytest.fixture(scope="module")
def base_image() -> str:
    return os.environ.get("MLOPS_BASE_IMAGE", "mlops-base:bookworm")


@pytest.fixture(scope="module")
def builds(base_image: str) -> dict[str, Build]:
    """Every image built, then built again with nothing changed."""
    build_redis(base_image)
    first = {name: build(name, base_image) for name in IMAGES}
    again = {name: build(name, base_image) for name in IMAGES}
    print(f"\n\nimages on {base_image} (classic builder)")
    print(f"{'image':<10} {'size MB':>8} {'build s':>8} {'no-op s':>8} {'context MB':>11}")
    for name, done in first.items():
        print(
            f"{name:<10} {done.size_bytes / MB:>8.0f} {done.seconds:>8.1f} "
            f"{again[name].seconds:>8.1f} {done.context_bytes / MB:>11.2f}"
        )
    total_again = sum(b.seconds for b in again.values())
    print(f"no-op rebuild of all {len(again)} images: {total_again:.1f} s\n")
    return {**first, **{f"{name}:again": b for name, b in again.items()}}


def test_each_image_builds_from_a_small_context(builds: dict[str, Build]) -> None:
    for name in IMAGES:
        assert 0 < builds[name].context_bytes <= CONTEXT_BUDGET, (name, builds[name].context_bytes)


@pytest.mark.parametrize("name", list(BUDGETS))
def test_image_size_budget(builds: dict[str, Build], name: str) -> None:
    assert builds[name].size_bytes <= BUDGETS[name], (
        f"{name}: {builds[name].size_bytes / MB:.0f} MB"
    )


def test_a_rebuild_without_change_takes_seconds(builds: dict[str, Build]) -> None:
    for name in IMAGES:
        again = builds[f"{name}:again"]
        assert again.seconds <= NOOP_REBUILD_BUDGET_S, f"{name}: {again.seconds:.1f} s"
        assert again.size_bytes == builds[name].size_bytes


@pytest.mark.parametrize("name", list(IMAGES))
def test_images_are_non_root_and_health_checked(builds: dict[str, Build], name: str) -> None:
    config = json.loads(
        docker("image", "inspect", "-f", "{{json .Config}}", image_ref(name)).stdout
    )
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"][0] == "CMD"


@pytest.mark.parametrize("name", ["gateway", "inference", "drift", "frontend", "trainer"])
def test_only_the_trainer_carries_torch_and_a_cpu_one(builds: dict[str, Build], name: str) -> None:
    probe = (
        "import importlib.util, sys\n"
        "if importlib.util.find_spec('torch') is None: print('none'); sys.exit()\n"
        "import torch; print('cuda' if torch.version.cuda else 'cpu')\n"
    )
    result = docker(
        "run", "--rm", "--read-only", "--network", "none", image_ref(name), "python", "-c", probe
    )
    assert result.stdout.strip() == ("cpu" if name == "trainer" else "none")


@pytest.fixture(scope="module")
def platform(
    builds: dict[str, Build], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """docker-compose.yaml's platform up on the built images; down with its volumes afterwards."""
    derived, ports = derive(resolved_compose(), EXTRA_ENV)
    file = tmp_path_factory.mktemp("compose") / "docker-compose.test.yaml"
    file.write_text(yaml.safe_dump(derived, sort_keys=False))
    running = Platform(file, ports, derived)
    print(f"compose: skipped {', '.join(SKIPPED)} (their images come from a registry, none here);")
    print("compose: Redis from Debian's redis-server on the local base; host network, free ports")
    started = time.monotonic()
    try:
        up = running.compose("up", "-d", "--no-build")
        if up.returncode != 0:
            logs = running.compose("logs", "--no-color", "--tail", "60").stdout
            raise AssertionError(f"compose up failed:\n{up.stderr[-4000:]}\n{logs[-12000:]}")
        took = time.monotonic() - started
        print(f"compose up (the trainer service trains the first models): {took:.0f} s")
        yield running
    finally:
        down = running.compose("down", "-v", "--remove-orphans", "--timeout", "20")
        assert down.returncode == 0, down.stderr
        label = f"label=com.docker.compose.project={PROJECT}"
        left = docker("ps", "-aq", "--filter", label).stdout.split()
        volumes = docker("volume", "ls", "-q", "--filter", label).stdout.split()
        assert left == [], left
        assert volumes == [], volumes
        print("compose down: no container, no volume left")


def _container(platform: Platform, service: str) -> dict[str, Any]:
    ids = platform.compose("ps", "-q", service).stdout.split()
    assert ids, f"no container for {service}"
    state: dict[str, Any] = json.loads(docker("inspect", "-f", "{{json .State}}", ids[0]).stdout)
    return state


def test_every_service_is_healthy(platform: Platform) -> None:
    trainer = _container(platform, "trainer")
    assert trainer["Status"] == "exited", trainer
    assert trainer["ExitCode"] == 0, trainer
    for service in ["redis", "mlflow", "inference", "gateway", "drift", "frontend", "worker"]:
        poll(
            f"{service} healthy",
            lambda service=service: (
                _container(platform, service).get("Health", {}).get("Status") == "healthy"
            ),
            timeout=240,
            every=3,
        )


def _digits(n: int) -> list[list[float]]:
    from sklearn.datasets import load_digits

    rows: list[list[float]] = load_digits().data[:n].tolist()
    return rows


def test_a_prediction_through_the_gateway(platform: Platform) -> None:
    answer = httpx.post(
        platform.url("GATEWAY") + "/v1/predict", json={"instances": _digits(3)}, timeout=30
    )
    assert answer.status_code == 200, answer.text + "\n" + platform.logs("gateway")
    body = answer.json()
    assert body["model"]["name"] == "digits-classifier"
    assert len(body["predictions"]) == 3
    assert all(0.0 <= p["confidence"] <= 1.0 for p in body["predictions"])


def _window(platform: Platform) -> int:
    models = httpx.get(platform.url("DRIFT") + "/v1/drift/models", timeout=10).json()["models"]
    return int(next(m["window_size"] for m in models if m["name"] == "digits-classifier"))


def test_traffic_reaches_drift(platform: Platform) -> None:
    before = _window(platform)
    rows = _digits(200)
    for start in range(0, len(rows), 50):
        answer = httpx.post(
            platform.url("GATEWAY") + "/v1/predict",
            json={"instances": rows[start : start + 50]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
    grown = poll(
        "drift window grows", lambda: (w := _window(platform)) >= before + 200 and w, timeout=60
    )
    print(f"drift window: {before} → {grown} rows")
    key = platform.config["services"]["drift"]["environment"]["DRIFT_ADMIN_API_KEYS"].split(",")[0]
    check = httpx.post(
        platform.url("DRIFT") + "/v1/drift/check", headers={"X-API-Key": key}, timeout=120
    )
    assert check.status_code == 200, check.text + "\n" + platform.logs("drift")
    assert "drift_detected" in check.json()
    report = httpx.get(platform.url("DRIFT") + "/v1/drift/report", timeout=120)
    assert report.status_code == 200, report.text[:500] + "\n" + platform.logs("drift")
    assert "<html" in report.text.lower()[:2000], report.text[:500]


def test_a_retraining_job_finishes_and_its_version_is_served(platform: Platform) -> None:
    gateway = platform.url("GATEWAY")
    before = httpx.get(gateway + "/v1/model", timeout=30).json()["version"]
    key = platform.config["services"]["gateway"]["environment"]["GATEWAY_ADMIN_API_KEYS"].split(
        ","
    )[0]
    queued = httpx.post(
        gateway + "/v1/retrain",
        headers={"X-API-Key": key},
        json={"reason": "image test", "overrides": RETRAIN_OVERRIDES},
        timeout=30,
    )
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]
    started = time.monotonic()

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = httpx.get(f"{gateway}/v1/jobs/{job_id}", timeout=30).json()
        assert job["state"] != "FAILURE", f"{job}\n{platform.logs('worker')}"
        return job if job["state"] == "SUCCESS" else None

    job = poll("retraining job finished", finished, timeout=900, every=5)
    version = str(job["result"]["version"])
    print(f"retraining job {job_id}: version {version} in {time.monotonic() - started:.0f} s")
    assert version != str(before)

    def served() -> str | None:
        answer = httpx.post(gateway + "/v1/predict", json={"instances": _digits(1)}, timeout=30)
        served_version = str(answer.json()["model"]["version"])
        return served_version if served_version == version else None

    poll(f"version {version} served", served, timeout=180, every=3)
