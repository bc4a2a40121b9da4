"""Triton's stock Python gRPC client works against our server unchanged."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import numpy as np

from mlops_inference.model import load_session
from mlops_inference.server import InferenceServer
from mlops_inference.source import file_version

SCRIPT = Path(__file__).with_name("triton_client.py")


async def test_tritonclient_gets_readiness_metadata_and_results(
    server: InferenceServer, linear_model: Path, tmp_path: Path
) -> None:
    x = np.random.default_rng(3).uniform(0, 16, (4, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), f"127.0.0.1:{server.port}", str(tmp_path / "x.npy"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    seen = json.loads(out)
    assert seen["live"]
    assert seen["ready"]
    assert seen["model_ready"]
    assert seen["unknown_ready"] is False
    assert seen["server_name"] == "mlops-inference"
    assert seen["version"] == file_version(linear_model)
    assert seen["id"] == "triton-1"
    assert seen["metadata"]["inputs"] == [
        {"name": "features", "datatype": "FP32", "shape": ["-1", "64"]}
    ]
    expected = load_session(linear_model, "m", "v", threads=1).predict({"features": x})
    np.testing.assert_allclose(
        np.array(seen["probabilities"]), expected["probabilities"], rtol=1e-5, atol=1e-6
    )
