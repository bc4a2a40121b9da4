"""gRPC's own retry policy against a real server: UNAVAILABLE retried, others not, deadline kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_gateway.errors import (
    DeadlineExceededError,
    DependencyUnavailableError,
    InferenceRejectedError,
)
from mlops_gateway.inference import InferenceClient


class Flaky(pb_grpc.GRPCInferenceServiceServicer):
    """Answers ``ServerLive`` with ``code`` for the first ``failures`` calls, then live."""

    def __init__(self) -> None:
        self.calls = 0
        self.failures = 0
        self.code = grpc.StatusCode.UNAVAILABLE
        self.delay_s = 0.0

    async def ServerLive(  # noqa: N802 - the protocol's name
        self, request: pb.ServerLiveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerLiveResponse:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.calls <= self.failures:
            await context.abort(self.code, "not now")
        return pb.ServerLiveResponse(live=True)


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[Flaky, str]]:
    servicer = Flaky()
    server = grpc.aio.server()
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, f"127.0.0.1:{port}"
    await server.stop(grace=0)


async def _live(target: str, **kwargs: float) -> bool:
    client = InferenceClient(target, "m", **kwargs)  # type: ignore[arg-type]
    try:
        return await client.server_live()
    finally:
        await client.close()


async def test_unavailable_is_retried_until_it_answers(flaky: tuple[Flaky, str]) -> None:
    servicer, target = flaky
    servicer.failures = 2
    assert await _live(target, retries=2)
    assert servicer.calls == 3


async def test_unavailable_past_the_retries_is_503(flaky: tuple[Flaky, str]) -> None:
    servicer, target = flaky
    servicer.failures = 5
    with pytest.raises(DependencyUnavailableError):
        await _live(target, retries=1)
    assert servicer.calls == 2


async def test_other_codes_are_not_retried(flaky: tuple[Flaky, str]) -> None:
    servicer, target = flaky
    servicer.failures, servicer.code = 1, grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(InferenceRejectedError):
        await _live(target, retries=2)
    assert servicer.calls == 1


async def test_retries_stay_inside_the_deadline(flaky: tuple[Flaky, str]) -> None:
    servicer, target = flaky
    servicer.failures, servicer.delay_s = 5, 0.1
    with pytest.raises(DeadlineExceededError):
        await _live(target, retries=4, timeout_s=0.25)
    assert servicer.calls <= 3
