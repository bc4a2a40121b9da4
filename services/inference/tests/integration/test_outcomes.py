"""Answered and failed requests per version reach ``outcomes:<model>`` in a real Redis."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest
import redis

from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.rollout import outcomes_key, parse_outcomes
from mlops_common.testing.rollout_models import write_failing_model
from mlops_inference.server import InferenceServer

from .conftest import infer_request, settings_for


async def test_model_run_failures_are_counted_per_version_and_bad_input_is_not(
    tmp_path: Path, redis_url: str
) -> None:
    store = redis.Redis.from_url(redis_url)
    key = outcomes_key("digits-classifier")
    store.delete(key)
    model = write_failing_model(tmp_path / "failing.onnx")
    settings = settings_for(str(model), redis_url=redis_url)
    async with InferenceServer.running(settings) as server:
        version = server.dataplane.endpoints["digits-classifier"].require().version
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            for _ in range(3):  # zeros: the model answers
                await stub.ModelInfer(infer_request(np.zeros((1, 64), dtype=np.float32)))
            for _ in range(2):  # a real digit: the model run raises
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await stub.ModelInfer(infer_request(np.full((1, 64), 16.0, dtype=np.float32)))
                assert failed.value.code() == grpc.StatusCode.INTERNAL
            with pytest.raises(grpc.aio.AioRpcError):  # the client's mistake: not counted
                await stub.ModelInfer(infer_request(np.zeros((1, 63), dtype=np.float32)))
    # the server adds what it counted when it stops
    assert parse_outcomes(store.hgetall(key)) == {version: (3, 2)}
    store.delete(key)
    store.close()


async def test_a_merged_call_counts_each_request_it_holds(tmp_path: Path, redis_url: str) -> None:
    store = redis.Redis.from_url(redis_url)
    key = outcomes_key("digits-classifier")
    store.delete(key)
    model = write_failing_model(tmp_path / "failing.onnx")
    settings = settings_for(str(model), redis_url=redis_url)
    merged = infer_request(np.zeros((4, 64), dtype=np.float32))
    merged.parameters["segment_ids"].string_param = "a,b,c"
    merged.parameters["segment_rows"].string_param = "1,2,1"
    async with InferenceServer.running(settings) as server:
        version = server.dataplane.endpoints["digits-classifier"].require().version
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            await pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(merged)
    assert parse_outcomes(store.hgetall(key)) == {version: (3, 0)}
    store.delete(key)
    store.close()
