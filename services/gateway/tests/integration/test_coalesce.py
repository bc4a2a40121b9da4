"""Coalescing against a real gRPC server: merged calls, own rows back, errors and cancellation.

The server answers each row with probabilities that encode the row itself (its first value picks
the class), records every call it gets (rows and segment parameters), can hold calls until the
test lets them go, and rejects a call holding a poisoned row as a model server would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import numpy as np
import pytest

from mlops_common.digits_spec import digits_spec
from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.segments import SEGMENT_IDS, SEGMENT_ROWS
from mlops_gateway.coalesce import Coalescer
from mlops_gateway.errors import DependencyUnavailableError, InferenceRejectedError
from mlops_gateway.inference import InferenceClient, Prediction

POISON = 99.0
SPEC = digits_spec()


@dataclass
class Recording(pb_grpc.GRPCInferenceServiceServicer):
    """Answers row ``r`` with class ``int(r[0]) % 10`` (confidence 0.91); records every call."""

    calls: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    status: grpc.StatusCode | None = None

    async def ModelInfer(  # noqa: N802 - the protocol's name
        self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInferResponse:
        x = np.frombuffer(request.raw_input_contents[0], "<f4").reshape(-1, 64)
        params = {key: value.string_param for key, value in request.parameters.items()}
        self.calls.append((len(x), params))
        await self.gate.wait()
        if self.status is not None:
            await context.abort(self.status, "not now")
        if (x == POISON).any():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "poisoned row")
        probabilities = np.full((len(x), 10), 0.01, np.float32)
        probabilities[np.arange(len(x)), x[:, 0].astype(int) % 10] = 0.91
        response = pb.ModelInferResponse(model_name=request.model_name, model_version="7")
        response.outputs.add(name="probabilities", datatype="FP32", shape=[len(x), 10])
        response.raw_output_contents.append(probabilities.tobytes())
        return response


@pytest.fixture
async def served() -> AsyncIterator[tuple[Recording, InferenceClient]]:
    servicer = Recording()
    server = grpc.aio.server()
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client = InferenceClient(f"127.0.0.1:{port}", SPEC.name, timeout_s=5.0)
    yield servicer, client
    servicer.gate.set()
    await client.close()
    await server.stop(grace=0)


def rows(label: int, n: int) -> np.ndarray:
    """``n`` rows whose answer is class ``label``."""
    x = np.zeros((n, 64), np.float32)
    x[:, 0] = label
    return x


async def until_calls(servicer: Recording, count: int) -> None:
    for _ in range(500):
        if len(servicer.calls) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} calls never arrived; got {servicer.calls}")


async def slot_taken(coalescer: Coalescer, servicer: Recording) -> asyncio.Task[Prediction]:
    """Send one prediction and wait until the server holds it: the lane's one slot is taken."""
    first = asyncio.create_task(coalescer.predict(SPEC.name, SPEC, rows(0, 1), "r0", "id-0"))
    await until_calls(servicer, 1)
    return first


async def test_a_lone_prediction_goes_at_once_and_alone(
    served: tuple[Recording, InferenceClient],
) -> None:
    servicer, client = served
    servicer.gate.set()
    coalescer = Coalescer(client, max_inflight=1, max_rows=64)
    result = await coalescer.predict(SPEC.name, SPEC, rows(3, 2), "req", "inf-1")
    assert result.probabilities.argmax(axis=1).tolist() == [3, 3]
    assert servicer.calls == [(2, {})]  # no segment parameters on a call of its own


async def test_waiting_predictions_go_merged_and_each_gets_its_own_rows(
    served: tuple[Recording, InferenceClient],
) -> None:
    servicer, client = served
    observed: list[int] = []
    coalescer = Coalescer(client, max_inflight=1, max_rows=64, observe=observed.append)
    first = await slot_taken(coalescer, servicer)  # the rest wait
    sizes = [1, 3, 2, 1, 4, 2, 1, 3, 2]
    waiting = [
        asyncio.create_task(
            coalescer.predict(SPEC.name, SPEC, rows(i + 1, n), f"r{i + 1}", f"id-{i + 1}")
        )
        for i, n in enumerate(sizes)
    ]
    await asyncio.sleep(0.05)
    assert len(servicer.calls) == 1
    servicer.gate.set()
    results = await asyncio.gather(first, *waiting)
    assert len(servicer.calls) == 2
    assert observed == [1, len(sizes)]  # predictions per call, for the metric
    merged_rows, params = servicer.calls[1]
    assert merged_rows == sum(sizes)
    assert params[SEGMENT_IDS] == ",".join(f"id-{i + 1}" for i in range(len(sizes)))
    assert params[SEGMENT_ROWS] == ",".join(map(str, sizes))
    for i, (n, result) in enumerate(zip([1, *sizes], results, strict=True)):
        assert result.probabilities.shape == (n, 10)
        assert result.probabilities.argmax(axis=1).tolist() == [i % 10] * n
        assert result.model_version == "7"


async def test_a_merged_call_holds_at_most_max_rows(
    served: tuple[Recording, InferenceClient],
) -> None:
    servicer, client = served
    coalescer = Coalescer(client, max_inflight=1, max_rows=5)
    first = await slot_taken(coalescer, servicer)  # the rest wait
    others = [
        asyncio.create_task(coalescer.predict(SPEC.name, SPEC, rows(1, 2), "r", f"b{i}"))
        for i in range(5)
    ]
    await asyncio.sleep(0.02)
    servicer.gate.set()
    await asyncio.gather(first, *others)
    assert [n for n, _ in servicer.calls] == [1, 4, 4, 2]


async def test_a_rejected_merged_call_fails_only_the_request_that_caused_it(
    served: tuple[Recording, InferenceClient],
) -> None:
    servicer, client = served
    coalescer = Coalescer(client, max_inflight=1, max_rows=64)
    first = await slot_taken(coalescer, servicer)  # the rest wait
    batches = [rows(i, 2) for i in range(1, 5)]
    batches[2][1, 0] = POISON
    waiting = [
        asyncio.create_task(coalescer.predict(SPEC.name, SPEC, x, "r", f"w{i}"))
        for i, x in enumerate(batches)
    ]
    await asyncio.sleep(0.02)
    servicer.gate.set()
    await first
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert isinstance(results[2], InferenceRejectedError)
    for i in (0, 1, 3):
        assert results[i].probabilities.argmax(axis=1).tolist() == [i + 1] * 2  # type: ignore[union-attr]
    # the merged call, then each of its requests alone
    assert [n for n, _ in servicer.calls] == [1, 8, 2, 2, 2, 2]


async def test_an_unavailable_server_fails_every_request_of_the_call(
    served: tuple[Recording, InferenceClient],
) -> None:
    servicer, client = served
    servicer.status = grpc.StatusCode.FAILED_PRECONDITION
    coalescer = Coalescer(client, max_inflight=1, max_rows=64)
    first = await slot_taken(coalescer, servicer)  # the rest wait
    waiting = [
        asyncio.create_task(coalescer.predict(SPEC.name, SPEC, rows(1, 1), "r", f"w{i}"))
        for i in range(3)
    ]
    await asyncio.sleep(0.02)
    servicer.status = grpc.StatusCode.UNAVAILABLE
    servicer.gate.set()
    results = await asyncio.gather(first, *waiting, return_exceptions=True)
    assert all(isinstance(r, DependencyUnavailableError) for r in results[1:]), results
    assert len(servicer.calls) >= 2


async def test_a_caller_that_gives_up_while_waiting_is_left_out(
    served: tuple[Recording, InferenceClient],
) -> None:
    servicer, client = served
    coalescer = Coalescer(client, max_inflight=1, max_rows=64)
    first = await slot_taken(coalescer, servicer)  # the rest wait
    kept = asyncio.create_task(coalescer.predict(SPEC.name, SPEC, rows(1, 2), "r", "kept"))
    gone = asyncio.create_task(coalescer.predict(SPEC.name, SPEC, rows(2, 3), "r", "gone"))
    await asyncio.sleep(0.02)
    gone.cancel()
    servicer.gate.set()
    await first
    assert (await kept).probabilities.argmax(axis=1).tolist() == [1, 1]
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert servicer.calls[1] == (2, {})  # only the kept request, sent as itself


async def test_no_slots_means_every_prediction_its_own_call(
    served: tuple[Recording, InferenceClient],
) -> None:
    servicer, client = served
    coalescer = Coalescer(client, max_inflight=0, max_rows=64)  # GATEWAY_COALESCE_MAX_INFLIGHT=0
    calls = [
        asyncio.create_task(coalescer.predict(SPEC.name, SPEC, rows(i, 1), "r", f"id-{i}"))
        for i in range(4)
    ]
    await until_calls(servicer, 4)  # all four in flight at once, none waiting
    servicer.gate.set()
    results = await asyncio.gather(*calls)
    assert [r.probabilities.argmax(axis=1).tolist() for r in results] == [[0], [1], [2], [3]]
    assert servicer.calls == [(1, {})] * 4
