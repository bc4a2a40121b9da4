"""E2E fixtures: the local stack started exactly as ``make up`` starts it, and a real Prometheus.

``test_loop`` starts from an empty state folder, as a new user does (``make up`` trains both
built-in models first). The other end-to-end tests start from a copy of a state folder whose
registry was bootstrapped once per session (:func:`bootstrapped_state`), the way a second
``make up`` finds it: the same stack, without training the same models again for each test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mlops_common.testing.servers import free_port, stop_process_group, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

from stack_control import RunningStack, run_stack  # noqa: E402


def _local_stack(
    state_dir: Path, extra_env: dict[str, str], seed: Path | None = None
) -> AbstractContextManager[RunningStack]:
    """Run ``scripts/stack.py`` on free ports (:func:`stack_control.run_stack`); Ctrl-C
    (SIGINT) stops it afterwards. ``seed``: a state folder copied in first."""
    return run_stack(state_dir, extra_env, seed=seed)


@dataclass
class Prometheus:
    """A real Prometheus scraping the stack."""

    url: str
    proc: subprocess.Popen[bytes]

    def query(self, expr: str) -> list[dict[str, object]]:
        """Run an instant query and return its result vector."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        response.raise_for_status()
        result: list[dict[str, object]] = response.json()["data"]["result"]
        return result


@contextmanager
def _prometheus(stack: RunningStack, workdir: Path) -> Iterator[Prometheus]:
    """Start Debian's ``prometheus`` scraping gateway, inference, drift and worker every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise AssertionError("prometheus is not installed: apt-get install prometheus")
    targets = {
        "gateway": stack.ports["GATEWAY_PORT"],
        "inference": stack.ports["INFERENCE_METRICS_PORT"],
        "drift": stack.ports["DRIFT_PORT"],
        "worker": stack.ports["TRAINER_WORKER_METRICS_PORT"],
    }
    scrape = "\n".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']"
        for job, port in targets.items()
    )
    config = workdir / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: 1s\nscrape_configs:\n{scrape}\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "prometheus.log").open("wb"),
        start_new_session=True,
    )
    server = Prometheus(url=f"http://127.0.0.1:{port}", proc=proc)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("prometheus did not become ready")
            time.sleep(0.3)
        yield server
    finally:
        stop_process_group(proc)


@pytest.fixture
def local_stack() -> Callable[[Path, dict[str, str]], AbstractContextManager[RunningStack]]:
    """``with local_stack(state_dir, env) as stack:`` runs the stack the way ``make up`` does,
    from an empty state folder (the first start trains the built-in models)."""
    return _local_stack


@pytest.fixture(scope="session")
def bootstrapped_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder whose registry holds the built-in models, trained once per session by
    ``mlops-train bootstrap`` against the MLflow server the Procfile runs (same store layout:
    SQLite under ``mlflow/``, artifacts proxied into ``mlflow/artifacts``, so a copy works
    wherever it lands)."""
    state = tmp_path_factory.mktemp("bootstrapped") / "state"
    (state / "mlflow" / "artifacts").mkdir(parents=True)
    venv_bin = Path(sys.executable).parent
    port = free_port()
    env = {**os.environ, "MLOPS_STATE_DIR": str(state), "LOG_LEVEL": "WARNING"}
    for variable in ("REDIS_URL", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(variable, None)
    command = [str(venv_bin / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--backend-store-uri", f"sqlite:///{state}/mlflow/mlflow.db"]
    command += ["--artifacts-destination", f"{state}/mlflow/artifacts"]
    server = subprocess.Popen(
        command,
        env={**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=subprocess.DEVNULL,
        stderr=(state.parent / "mlflow-server.log").open("wb"),
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        # No Redis runs yet: the promotions are not announced (nothing listens).
        trained = subprocess.run(
            [str(venv_bin / "mlops-train"), "bootstrap"],
            env={**env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    finally:
        stop_process_group(server)
    return state


@pytest.fixture
def seeded_stack(
    bootstrapped_state: Path,
) -> Callable[[Path, dict[str, str]], AbstractContextManager[RunningStack]]:
    """``with seeded_stack(state_dir, env) as stack:`` — :func:`local_stack` over a copy of
    :func:`bootstrapped_state` (a later ``make up``: the built-in models are there)."""

    def start(state_dir: Path, extra_env: dict[str, str]) -> AbstractContextManager[RunningStack]:
        return _local_stack(state_dir, extra_env, seed=bootstrapped_state)

    return start


@pytest.fixture
def prometheus() -> Callable[[RunningStack, Path], AbstractContextManager[Prometheus]]:
    """``with prometheus(stack, workdir) as prom:`` scrapes the stack with a real Prometheus."""
    return _prometheus
