"""The liveness health service: SERVING while the process answers, whatever its models do.

Kubernetes' liveness probe checks ``inference/live``; readiness checks ``""`` (every model
ready). A broken model must turn readiness off without ever failing liveness.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mlops_inference.catalog import parse_models
from mlops_inference.server import LIVENESS_SERVICE, InferenceServer

from .conftest import settings_for

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_liveness_serves_while_a_model_is_broken(models_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    shutil.copy(models_dir / "broken.onnx", broken)
    models = f"digits-classifier={models_dir / 'linear.onnx'},broken={broken}"
    async with (
        InferenceServer.running(settings_for("", models=models)) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)

        async def status(service: str) -> int:
            return (await health.Check(health_pb2.HealthCheckRequest(service=service))).status

        assert await status(LIVENESS_SERVICE) == SERVING
        assert await status("") == NOT_SERVING  # readiness: not every model is loaded
        assert await status("broken") == NOT_SERVING
        assert await status("digits-classifier") == SERVING


async def test_liveness_serves_before_any_model_is_loaded(models_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    shutil.copy(models_dir / "broken.onnx", path)
    settings = settings_for(str(path))
    server = await InferenceServer.create(settings)
    await server.start(wait_for_model=False)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            check = await health.Check(health_pb2.HealthCheckRequest(service=LIVENESS_SERVICE))
            assert check.status == SERVING
            ready = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert ready.status == NOT_SERVING
    finally:
        await server.stop()


def test_the_liveness_name_can_never_be_a_model_name() -> None:
    with pytest.raises(ValueError, match="INFERENCE_MODELS"):
        parse_models(LIVENESS_SERVICE)
