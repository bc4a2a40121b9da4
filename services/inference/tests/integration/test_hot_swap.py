"""Hot swap from the MLflow registry under concurrent load: no failed request, a clean switch."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import pytest
import redis.asyncio as aioredis

from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent
from mlops_common.registry import MODEL_NAME, PRODUCTION_URI
from mlops_common.testing.onnx_models import register_onnx_model
from mlops_common.testing.pytest_plugin import MlflowStore
from mlops_inference.model import load_session
from mlops_inference.server import InferenceServer

from .conftest import infer_request, probabilities, settings_for

X = np.random.default_rng(7).uniform(0, 16, (4, 64)).astype(np.float32)


async def _load(stub: pb_grpc.GRPCInferenceServiceStub, stop: asyncio.Event,
                seen: list[tuple[str, np.ndarray]], errors: list[str]) -> None:  # fmt: skip
    while not stop.is_set():
        try:
            response = await stub.ModelInfer(infer_request(X))
        except grpc.aio.AioRpcError as exc:
            errors.append(f"{exc.code()}: {exc.details()}")
        else:
            seen.append((response.model_version, probabilities(response)))


async def _announce(redis_url: str, version: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        for _ in range(100):  # wait for the watcher's subscription
            if (await client.pubsub_numsub(MODEL_EVENTS_CHANNEL))[0][1] > 0:
                break
            await asyncio.sleep(0.05)
        await client.publish(MODEL_EVENTS_CHANNEL, ModelEvent(MODEL_NAME, version).encode())
    finally:
        await client.aclose()


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Return as soon as ``condition()`` holds; fail if it does not within 15 s."""
    for _ in range(1500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


def _served(seen: list[tuple[str, np.ndarray]], version: str) -> int:
    return sum(v == version for v, _ in seen)


@pytest.mark.slow
async def test_promotion_swaps_under_load_and_a_broken_version_is_refused(
    mlflow_store: MlflowStore, redis_url: str, models_dir: Path
) -> None:
    uri = mlflow_store.tracking_uri
    await asyncio.to_thread(register_onnx_model, uri, models_dir / "linear.onnx")
    settings = settings_for(
        PRODUCTION_URI, mlflow_tracking_uri=uri, redis_url=redis_url, poll_interval_s=60.0
    )  # polling is too slow to matter here: the Redis event must trigger the swaps
    expected = {
        "1": load_session(models_dir / "linear.onnx", "m", "1", 1).predict({"features": X}),
        "2": load_session(models_dir / "linear-1.onnx", "m", "2", 1).predict({"features": X}),
    }
    seen: list[tuple[str, np.ndarray]] = []
    errors: list[str] = []
    stop = asyncio.Event()
    async with (
        InferenceServer.running(settings) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        clients = [asyncio.create_task(_load(stub, stop, seen, errors)) for _ in range(8)]
        await _until(lambda: len(seen) > 10, "version 1 served some requests")
        version = await asyncio.to_thread(register_onnx_model, uri, models_dir / "linear-1.onnx")
        assert version == "2"
        await _announce(redis_url, version)
        await _until(lambda: _served(seen, "2") > 10, "version 2 served some requests")

        broken = await asyncio.to_thread(register_onnx_model, uri, models_dir / "broken.onnx")
        await _announce(redis_url, broken)
        await _until(lambda: server.metrics.load_failures._value.get() >= 1, "it was refused")
        refused_at = len(seen)
        await _until(lambda: len(seen) > refused_at + 10, "requests were served after")
        stop.set()
        await asyncio.gather(*clients)

    assert errors == []
    versions = [v for v, _ in seen]
    switch = versions.index("2")
    assert set(versions[:switch]) == {"1"}
    assert set(versions[switch:]) == {"2"}, "a response went back to the old version"
    counts = Counter(versions)
    assert counts["1"] > 10, counts
    assert counts["2"] > 10, counts
    for version, probs in seen:  # every answer comes whole from the version it names
        np.testing.assert_allclose(probs, expected[version]["probabilities"], rtol=1e-5, atol=1e-6)
    assert server.metrics.swaps._value.get() == 1
    assert server.metrics.load_failures._value.get() == 1
