"""A real inference server on free ports, and a gRPC stub talking to it over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_inference.server import InferenceServer
from mlops_inference.settings import InferenceSettings


def settings_for(model_uri: str, **overrides: Any) -> InferenceSettings:
    """Settings for a test server: loopback, free ports."""
    values: dict[str, Any] = {
        "model_uri": model_uri, "host": "127.0.0.1", "port": 0, "metrics_port": 0,
        "intra_op_threads": 1, "grace_period_s": 1.0,
        # No Redis unless a test starts one: outcome counts and shadow records then wait.
        "redis_url": "redis://127.0.0.1:1/0",
    }  # fmt: skip
    return InferenceSettings(**(values | overrides))


def infer_request(x: np.ndarray, **fields: Any) -> pb.ModelInferRequest:
    """A raw-contents request for ``x`` under the contract's names."""
    tensor = pb.ModelInferRequest.InferInputTensor(
        name="features", datatype="FP32", shape=list(x.shape)
    )
    values = {"model_name": "digits-classifier", "inputs": [tensor]} | fields
    return pb.ModelInferRequest(raw_input_contents=[x.astype("<f4").tobytes()], **values)


def probabilities(response: pb.ModelInferResponse) -> np.ndarray:
    """The ``probabilities`` output of a response as an ``[N, 10]`` array."""
    return np.frombuffer(response.raw_output_contents[0], "<f4").reshape(-1, 10)


@pytest.fixture
async def server(linear_model: Path) -> AsyncIterator[InferenceServer]:
    """A started server (batching on) serving the linear model."""
    async with InferenceServer.running(settings_for(str(linear_model))) as running:
        yield running


@pytest.fixture
async def channel(server: InferenceServer) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to :func:`server`."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as chan:
        yield chan


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> pb_grpc.GRPCInferenceServiceStub:
    """An OIP stub on :func:`channel`."""
    return pb_grpc.GRPCInferenceServiceStub(channel)
