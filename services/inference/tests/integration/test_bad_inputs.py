"""Every kind of bad request gets INVALID_ARGUMENT or NOT_FOUND with a clear message."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_inference.server import InferenceServer

from .conftest import infer_request, probabilities

Tensor = pb.ModelInferRequest.InferInputTensor
X = np.full((2, 64), 3.0, np.float32)
INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


def _raw(
    name: str = "features",
    datatype: str = "FP32",
    shape: tuple[int, ...] = (2, 64),
    data: bytes = X.tobytes(),
    **fields: object,
) -> pb.ModelInferRequest:
    values = {"model_name": "digits-classifier"} | fields
    tensor = Tensor(name=name, datatype=datatype, shape=list(shape))
    return pb.ModelInferRequest(inputs=[tensor], raw_input_contents=[data], **values)  # type: ignore[arg-type]


def _segmented(values: dict[str, str]) -> pb.ModelInferRequest:
    """A two-row request whose segment parameters are ``values`` (see mlops_common.segments)."""
    request = _raw()
    for key, value in values.items():
        request.parameters[key].string_param = value
    return request


BAD_REQUESTS = {
    "unknown model": (_raw(model_name="mnist"), NOT_FOUND, "unknown model 'mnist'"),
    "unknown version": (_raw(model_version="999"), NOT_FOUND, "version '999' is not served"),
    "wrong input name": (_raw(name="pixels"), INVALID, "do not match the model's inputs"),
    "wrong datatype": (
        _raw(datatype="FP64", data=X.astype("f8").tobytes(), shape=(2, 64)),
        INVALID,
        "has datatype FP64; the model takes FP32",
    ),
    "unknown datatype": (_raw(datatype="FLOAT"), INVALID, "unknown or unsupported datatype"),
    "wrong width": (_raw(shape=(4, 32)), INVALID, "has shape [4, 32]; the model takes [-1, 64]"),
    "wrong rank": (_raw(shape=(128,)), INVALID, "has shape [128]"),
    "byte length vs shape": (_raw(shape=(3, 64)), INVALID, "shape [3, 64] FP32 needs 192"),
    "ragged bytes": (_raw(data=X.tobytes()[:-1]), INVALID, "not a whole number of FP32 values"),
    "empty batch": (_raw(shape=(0, 64), data=b""), INVALID, "empty batch"),
    "too large batch": (_raw(shape=(2000, 64), data=bytes(2000 * 256)), INVALID, "the limit is"),
    "no inputs": (pb.ModelInferRequest(model_name="digits-classifier"), INVALID, "no inputs"),
    "raw count": (
        pb.ModelInferRequest(
            model_name="digits-classifier",
            inputs=[Tensor(name="features", datatype="FP32", shape=[2, 64])],
            raw_input_contents=[b"", b""],
        ),
        INVALID,
        "2 raw_input_contents for 1 inputs",
    ),
    "typed count": (
        pb.ModelInferRequest(
            model_name="digits-classifier",
            inputs=[
                Tensor(
                    name="features",
                    datatype="FP32",
                    shape=[2, 64],
                    contents=pb.InferTensorContents(fp32_contents=[1.0] * 100),
                )
            ],
        ),
        INVALID,
        "holds 100 values",
    ),
    "segments without rows": (
        _segmented({"segment_ids": "a,b"}),
        INVALID,
        "send both 'segment_ids' and 'segment_rows'",
    ),
    "segments not covering the rows": (
        _segmented({"segment_ids": "a,b", "segment_rows": "1,2"}),
        INVALID,
        "the segments hold 3 rows; the request has 2",
    ),
    "segment rows not numbers": (
        _segmented({"segment_ids": "a", "segment_rows": "two"}),
        INVALID,
        "integers",
    ),
    "unknown output": (
        _raw(outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="logits")]),
        INVALID,
        "unknown output(s) ['logits']",
    ),
}


@pytest.mark.parametrize("case", BAD_REQUESTS.keys())
async def test_bad_request_is_refused_with_a_clear_message(
    case: str, stub: pb_grpc.GRPCInferenceServiceStub, server: InferenceServer
) -> None:
    request, code, message = BAD_REQUESTS[case]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ModelInfer(request)
    assert caught.value.code() == code
    assert message in (caught.value.details() or "")
    # the server survives and still answers good requests
    assert probabilities(await stub.ModelInfer(infer_request(X))).shape == (2, 10)


async def test_metadata_of_unknown_model_is_not_found(
    stub: pb_grpc.GRPCInferenceServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ModelMetadata(pb.ModelMetadataRequest(name="mnist"))
    assert caught.value.code() == NOT_FOUND
    ready = await stub.ModelReady(pb.ModelReadyRequest(name="mnist"))
    assert ready.ready is False


async def test_refusals_are_counted_by_code(
    stub: pb_grpc.GRPCInferenceServiceStub, server: InferenceServer
) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.ModelInfer(_raw(shape=(4, 32)))
    await stub.ModelInfer(infer_request(X))
    counter = server.metrics.requests
    model = "digits-classifier"
    assert counter.labels("ModelInfer", "INVALID_ARGUMENT", model)._value.get() == 1
    assert counter.labels(method="ModelInfer", code="OK", model=model)._value.get() == 1
