"""``python -m mlops_drift`` as deployed: its own process, checks in a worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from _drift_simulation import clean

from mlops_common.testing.servers import stop_process_group, wait_for_port


@pytest.mark.slow
def test_module_serves_and_checks_periodically_in_a_worker_process(  # type: ignore[no-untyped-def]
    redis_url: str,
    redis_db: redis.Redis,
    mlflow_store: Any,
    production_model: str,
    unused_port: int,
    tmp_path: Path,
    digits,
    helpers,
) -> None:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "MLFLOW_TRACKING_URI": mlflow_store.tracking_uri,
        "DRIFT_PORT": str(unused_port),
        "DRIFT_HOST": "127.0.0.1",
        "DRIFT_CHECK_EXECUTOR": "process",
        "DRIFT_CHECK_INTERVAL_S": "0.5",
        "DRIFT_MIN_WINDOW_SIZE": "100",
        "DRIFT_MIN_NEW_ROWS": "10",
        "DRIFT_READ_BLOCK_MS": "50",
        "OTEL_SDK_DISABLED": "true",
    }
    log = (tmp_path / "drift.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlops_drift"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", unused_port, timeout=60)
        base = f"http://127.0.0.1:{unused_port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        x, _ = clean(digits.pool_x, digits.pool_y, 150, np.random.default_rng(2))
        deadline = time.monotonic() + 120
        sent = False
        while time.monotonic() < deadline:
            metrics = httpx.get(f"{base}/metrics").text
            if not sent and 'drift_reference_info{name="digits-classifier",version="1"} 1.0' in (
                metrics
            ):
                helpers.add_traffic(redis_db, digits.entries(x))
                sent = True
            status = httpx.get(f"{base}/v1/drift/status")
            if status.status_code == 200:
                break
            time.sleep(0.2)
        assert status.status_code == 200, (tmp_path / "drift.log").read_text()[-3000:]
        body = status.json()
        assert body["window_size"] == 150
        assert body["drift_detected"] is False
        assert proc.poll() is None
    finally:
        stop_process_group(proc)
        log.close()
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught
    output = (tmp_path / "drift.log").read_text()
    assert proc.returncode in (0, -15), output[-3000:]
    assert "Application shutdown complete" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
