"""Several models in one server (``INFERENCE_MODELS``): routing, metadata, readiness, health."""

from __future__ import annotations

import asyncio
import shutil
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.testing.iris import INPUT, OUTPUT, expected, write_iris_model
from mlops_inference.server import INFERENCE_SERVICE, InferenceServer

from .conftest import infer_request, probabilities, settings_for

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
DIGITS, IRIS, BROKEN = "digits-classifier", "iris", "broken"


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 4-feature, 3-class model."""
    return write_iris_model(tmp_path_factory.mktemp("iris") / "iris.onnx")


def iris_request(x: np.ndarray, name: str = IRIS) -> pb.ModelInferRequest:
    """A raw-contents request of ``x`` (``[N, 4]``) for the iris model."""
    tensor = pb.ModelInferRequest.InferInputTensor(name=INPUT, datatype="FP32", shape=list(x.shape))
    return pb.ModelInferRequest(
        model_name=name, inputs=[tensor], raw_input_contents=[x.astype("<f4").tobytes()]
    )


def _tensors(
    meta: list[pb.ModelMetadataResponse.TensorMetadata],
) -> list[tuple[str, str, list[int]]]:
    return [(t.name, t.datatype, list(t.shape)) for t in meta]


async def _metrics_text(server: InferenceServer) -> str:
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    return await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())


@pytest.fixture
async def two(linear_model: Path, iris_model: Path) -> AsyncIterator[InferenceServer]:
    """A server with the digits model and the iris model."""
    settings = settings_for("", models=f"{DIGITS}={linear_model}, {IRIS}={iris_model}")
    async with InferenceServer.running(settings) as server:
        yield server


async def test_two_models_answer_by_name_with_their_own_tensors(two: InferenceServer) -> None:
    x_iris = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    x_digits = np.full((2, 64), 8.0, np.float32)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{two.port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        iris, digits = await asyncio.gather(
            stub.ModelInfer(iris_request(x_iris)), stub.ModelInfer(infer_request(x_digits))
        )
        assert (iris.model_name, digits.model_name) == (IRIS, DIGITS)
        assert [(o.name, list(o.shape)) for o in iris.outputs] == [(OUTPUT, [5, 3])]
        scores = np.frombuffer(iris.raw_output_contents[0], "<f4").reshape(5, 3)
        np.testing.assert_allclose(scores, expected(x_iris), rtol=1e-5, atol=1e-6)
        assert probabilities(digits).shape == (2, 10)

        iris_meta = await stub.ModelMetadata(pb.ModelMetadataRequest(name=IRIS))
        digits_meta = await stub.ModelMetadata(pb.ModelMetadataRequest(name=DIGITS))
        assert iris_meta.name == IRIS
        assert _tensors(iris_meta.inputs) == [(INPUT, "FP32", [-1, 4])]
        assert _tensors(iris_meta.outputs) == [(OUTPUT, "FP32", [-1, 3])]
        assert _tensors(digits_meta.inputs) == [("features", "FP32", [-1, 64])]
        assert _tensors(digits_meta.outputs) == [("probabilities", "FP32", [-1, 10])]

        # A request shaped for one model is refused by the other with its own shape.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ModelInfer(iris_request(np.zeros((1, 4), np.float32), name=DIGITS))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "['features']" in (caught.value.details() or "")

        assert (await stub.ServerReady(pb.ServerReadyRequest())).ready
        for name in (IRIS, DIGITS):
            assert (await stub.ModelReady(pb.ModelReadyRequest(name=name))).ready
    text = await _metrics_text(two)
    assert f'inference_requests_total{{code="OK",method="ModelInfer",model="{IRIS}"}} 1.0' in text
    assert f'inference_batch_size_sum{{model="{IRIS}"}} 5.0' in text
    assert f'inference_batch_size_sum{{model="{DIGITS}"}} 2.0' in text
    assert f'inference_model_info{{name="{IRIS}",version=' in text
    assert f'inference_model_info{{name="{DIGITS}",version=' in text


async def test_an_unknown_model_is_not_found_naming_the_served_ones(two: InferenceServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{two.port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        for call in (
            stub.ModelInfer(iris_request(np.zeros((1, 4), np.float32), name="mnist")),
            stub.ModelMetadata(pb.ModelMetadataRequest(name="mnist")),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            details = caught.value.details() or ""
            assert "unknown model 'mnist'" in details
            assert f"'{DIGITS}', '{IRIS}'" in details
        assert not (await stub.ModelReady(pb.ModelReadyRequest(name="mnist"))).ready
    text = await _metrics_text(two)
    assert 'model="mnist"' not in text  # unknown names never become label values
    assert 'inference_requests_total{code="NOT_FOUND",method="ModelInfer",model=""} 1.0' in text


async def test_a_corrupt_model_stays_not_ready_while_the_good_one_serves(
    models_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.onnx"
    shutil.copy(models_dir / "broken.onnx", broken)
    good = models_dir / "linear.onnx"
    settings = settings_for("", models=f"{DIGITS}={good},{BROKEN}={broken}", poll_interval_s=0.1)
    async with (
        InferenceServer.running(settings) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)

        async def status(service: str) -> int:
            return (await health.Check(health_pb2.HealthCheckRequest(service=service))).status

        # The good model serves.
        assert probabilities(await stub.ModelInfer(infer_request(np.zeros((1, 64))))).shape == (
            1,
            10,
        )
        assert (await stub.ModelReady(pb.ModelReadyRequest(name=DIGITS))).ready
        assert await status(DIGITS) == SERVING
        # The server is not ready, and says which model is not and why.
        assert not (await stub.ServerReady(pb.ServerReadyRequest())).ready
        assert not (await stub.ModelReady(pb.ModelReadyRequest(name=BROKEN))).ready
        for service in ("", INFERENCE_SERVICE, BROKEN):
            assert await status(service) == NOT_SERVING
        for call in (
            stub.ModelMetadata(pb.ModelMetadataRequest(name=BROKEN)),
            stub.ModelInfer(iris_request(np.zeros((1, 4), np.float32), name=BROKEN)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            details = caught.value.details() or ""
            assert f"model '{BROKEN}' is not loaded" in details
            assert "onnxruntime refused" in details
        # The repository index lists both, with the state and reason of each.
        index = {
            m.name: m for m in (await stub.RepositoryIndex(pb.RepositoryIndexRequest())).models
        }
        assert (index[DIGITS].state, index[DIGITS].reason) == ("READY", "")
        assert index[BROKEN].state == "UNAVAILABLE"
        assert "onnxruntime refused" in index[BROKEN].reason
        ready_only = await stub.RepositoryIndex(pb.RepositoryIndexRequest(ready=True))
        assert [m.name for m in ready_only.models] == [DIGITS]
        text = await _metrics_text(server)
        assert f'inference_model_ready{{model="{BROKEN}"}} 0.0' in text
        assert f'inference_model_ready{{model="{DIGITS}"}} 1.0' in text
        assert "inference_model_load_failures_total 1.0" in text

        # A good file replaces the corrupt one: the watcher loads it, everything turns ready.
        shutil.copy(good, broken)
        for _ in range(100):
            if await status("") == SERVING:
                break
            await asyncio.sleep(0.05)
        assert await status("") == SERVING
        assert await status(BROKEN) == SERVING
        assert (await stub.ServerReady(pb.ServerReadyRequest())).ready
        assert (await stub.ModelReady(pb.ModelReadyRequest(name=BROKEN))).ready
