"""A short headless locust run against the real stack (processes, as ``make up`` runs them).

Locust runs in its own subprocess: importing it (gevent monkey-patching) in a process that
already imported grpc or OpenTelemetry can hang. The run must end with 0 failures.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlops_common.testing.onnx_models import write_linear_model
from mlops_common.testing.servers import free_port, stop_process_group, wait_for_port

pytestmark = [pytest.mark.slow, pytest.mark.integration]

HERE = Path(__file__).parent


def _spawn(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[str]:
    """Inference and gateway as processes; yields the gateway's URL."""
    root = tmp_path_factory.mktemp("stack")
    model = write_linear_model(root / "model.onnx")
    inference_port, gateway_port = free_port(), free_port()
    common = {"REDIS_URL": redis_url, "LOG_LEVEL": "WARNING", "MLOPS_STATE_DIR": str(root)}
    inference = _spawn(
        "mlops_inference",
        {
            **common,
            "INFERENCE_MODEL_URI": str(model),
            "INFERENCE_PORT": str(inference_port),
            "INFERENCE_METRICS_PORT": str(free_port()),
            "INFERENCE_HOST": "127.0.0.1",
        },
        root / "inference.log",
    )
    gateway = _spawn(
        "mlops_gateway",
        {
            **common,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(gateway_port),
            "GATEWAY_INFERENCE_TARGET": f"127.0.0.1:{inference_port}",
        },
        root / "gateway.log",
    )
    url = f"http://127.0.0.1:{gateway_port}"
    try:
        wait_for_port("127.0.0.1", gateway_port, timeout=60)
        for _ in range(200):
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        else:
            pytest.fail("gateway never became ready:\n" + (root / "gateway.log").read_text())
        yield url
    finally:
        stop_process_group(gateway)
        stop_process_group(inference)


def test_short_headless_locust_run_has_no_failures(gateway: str, tmp_path: Path) -> None:
    prefix = tmp_path / "locust"
    run = subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"),
            "--headless", "--users", "8", "--spawn-rate", "8", "--run-time", "8s",
            "--host", gateway, "--csv", str(prefix), "--only-summary", "--stop-timeout", "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    with open(f"{prefix}_stats.csv", newline="") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    total = rows["Aggregated"]
    assert int(total["Request Count"]) > 50, run.stdout + run.stderr
    assert int(total["Failure Count"]) == 0, run.stdout + run.stderr
    assert int(rows["/v1/feedback"]["Request Count"]) > 0
    assert run.returncode == 0, run.stderr[-3000:]
