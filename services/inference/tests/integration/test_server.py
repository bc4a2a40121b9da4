"""The server end to end over loopback: protocol calls, health, reflection, metrics, traces."""

from __future__ import annotations

import asyncio
import shutil
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.telemetry import build_tracer_provider
from mlops_inference.model import load_session
from mlops_inference.server import INFERENCE_SERVICE, InferenceServer
from mlops_inference.source import file_version

from .conftest import infer_request, probabilities, settings_for

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _reference(path: Path, x: np.ndarray) -> np.ndarray:
    model = load_session(path, "digits-classifier", "ref", threads=1)
    return model.predict({"features": x})["probabilities"]


async def test_readiness_and_metadata(
    stub: pb_grpc.GRPCInferenceServiceStub, linear_model: Path
) -> None:
    assert (await stub.ServerLive(pb.ServerLiveRequest())).live
    assert (await stub.ServerReady(pb.ServerReadyRequest())).ready
    assert (await stub.ModelReady(pb.ModelReadyRequest(name="digits-classifier"))).ready
    meta = await stub.ModelMetadata(pb.ModelMetadataRequest(name="digits-classifier"))
    assert meta.versions == [file_version(linear_model)]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [
        ("features", "FP32", [-1, 64])
    ]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [
        ("probabilities", "FP32", [-1, 10])
    ]
    server_meta = await stub.ServerMetadata(pb.ServerMetadataRequest())
    assert server_meta.name == "mlops-inference"


async def test_raw_and_typed_inputs_give_the_model_outputs_and_version(
    stub: pb_grpc.GRPCInferenceServiceStub, linear_model: Path
) -> None:
    x = np.random.default_rng(0).uniform(0, 16, (5, 64)).astype(np.float32)
    expected = _reference(linear_model, x)
    raw = await stub.ModelInfer(infer_request(x, id="req-1"))
    typed = await stub.ModelInfer(
        pb.ModelInferRequest(
            model_name="digits-classifier",
            inputs=[
                pb.ModelInferRequest.InferInputTensor(
                    name="features",
                    datatype="FP32",
                    shape=[5, 64],
                    contents=pb.InferTensorContents(fp32_contents=x.ravel().tolist()),
                )
            ],
        )
    )
    for response in (raw, typed):
        np.testing.assert_allclose(probabilities(response), expected, rtol=1e-5, atol=1e-6)
        assert response.model_version == file_version(linear_model)
        assert response.outputs[0].datatype == "FP32"
        assert list(response.outputs[0].shape) == [5, 10]
        assert not response.outputs[0].HasField("contents")
    assert raw.id == "req-1"
    pinned = await stub.ModelInfer(infer_request(x, model_version=file_version(linear_model)))
    assert pinned.model_version == raw.model_version


@pytest.mark.parametrize("batching", [True, False])
async def test_concurrent_callers_each_get_their_own_rows(
    linear_model: Path, batching: bool
) -> None:
    rng = np.random.default_rng(1)
    inputs = [rng.uniform(0, 16, (int(n), 64)).astype(np.float32) for n in rng.integers(1, 9, 60)]
    # in a worker thread (not inline), so requests queue up while a batch runs
    settings = settings_for(
        str(linear_model), batching=batching, max_batch_size=16, inline_max_ms=0.0
    )
    async with (
        InferenceServer.running(settings) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        responses = await asyncio.gather(*[stub.ModelInfer(infer_request(x)) for x in inputs])
    for x, response in zip(inputs, responses, strict=True):
        np.testing.assert_allclose(
            probabilities(response), _reference(linear_model, x), rtol=1e-5, atol=1e-6
        )
    batches = server.metrics.batch_size.collect()[0].samples
    count = next(s.value for s in batches if s.name == "inference_batch_size_count")
    assert (count < len(inputs)) if batching else (count == len(inputs))


async def test_repository_calls_are_unimplemented(stub: pb_grpc.GRPCInferenceServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="x"))
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_health_turns_serving_only_once_a_model_loads(
    models_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "model.onnx"
    shutil.copy(models_dir / "broken.onnx", path)
    settings = settings_for(str(path), poll_interval_s=0.1)
    async with (
        InferenceServer.running(settings) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        for service in ("", INFERENCE_SERVICE):
            check = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert check.status == NOT_SERVING
        assert not (await stub.ServerReady(pb.ServerReadyRequest())).ready
        assert (await stub.ServerLive(pb.ServerLiveRequest())).live
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ModelInfer(infer_request(np.zeros((1, 64), np.float32)))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert server.metrics.load_failures._value.get() == 1

        shutil.copy(models_dir / "linear.onnx", path)  # a good model appears
        for _ in range(100):
            check = await health.Check(health_pb2.HealthCheckRequest(service=""))
            if check.status == SERVING:
                break
            await asyncio.sleep(0.05)
        assert check.status == SERVING
        assert (await stub.ServerReady(pb.ServerReadyRequest())).ready
        await stub.ModelInfer(infer_request(np.zeros((1, 64), np.float32)))


async def test_reflection_lists_the_services(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def requests():  # type: ignore[no-untyped-def]
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async for response in stub.ServerReflectionInfo(requests()):
        names = {s.name for s in response.list_services_response.service}
        break
    assert {INFERENCE_SERVICE, "grpc.health.v1.Health"} <= names


async def test_metrics_endpoint_exposes_the_contract_names(
    stub: pb_grpc.GRPCInferenceServiceStub, server: InferenceServer
) -> None:
    await stub.ModelInfer(infer_request(np.zeros((3, 64), np.float32)))
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    for name in (
        'inference_requests_total{code="OK",method="ModelInfer",model="digits-classifier"} 1.0',
        'inference_request_duration_seconds_bucket{le="0.5",method="ModelInfer",model="digits-',
        'inference_batch_size_sum{model="digits-classifier"} 3.0',
        'inference_model_ready{model="digits-classifier"} 1.0',
        "inference_queue_depth 0.0",
        'inference_model_info{name="digits-classifier",version=',
        "inference_model_swaps_total 0.0",
        "inference_model_load_failures_total 0.0",
    ):
        assert name in text


async def test_server_spans_continue_the_callers_trace(linear_model: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("inference", {}, (SimpleSpanProcessor(exporter),))
    trace_id, parent_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    server = await InferenceServer.create(settings_for(str(linear_model)), tracer_provider=provider)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            await stub.ModelInfer(
                infer_request(np.zeros((1, 64), np.float32)),
                metadata=(("traceparent", f"00-{trace_id}-{parent_id}-01"),),
            )
    finally:
        await server.stop()
    spans = [s for s in exporter.get_finished_spans() if "ModelInfer" in s.name]
    assert spans, [s.name for s in exporter.get_finished_spans()]
    assert format(spans[0].context.trace_id, "032x") == trace_id
    assert spans[0].parent is not None
    assert format(spans[0].parent.span_id, "016x") == parent_id
