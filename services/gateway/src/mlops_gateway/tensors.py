"""JSON tensors of the Open Inference Protocol REST API ↔ raw gRPC tensor contents."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_gateway.errors import BadRequestError, InferenceFailedError

#: OIP datatypes and their little-endian numpy dtypes (BYTES is not supported over REST here).
DTYPES: Final[dict[str, str]] = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


def to_raw(name: str, datatype: str, shape: list[int], data: Any) -> bytes:
    """Raw little-endian bytes of one JSON input tensor, checked against its shape."""
    dtype = DTYPES.get(datatype)
    if dtype is None:
        raise BadRequestError(
            f"input {name!r}: datatype {datatype!r} is not supported; use one of "
            + ", ".join(DTYPES)
        )
    try:
        array = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRequestError(f"input {name!r}: data does not fit {datatype}: {exc}") from exc
    expected = int(np.prod(shape)) if shape else 1
    if array.size != expected:
        raise BadRequestError(
            f"input {name!r}: {array.size} values do not fill shape {shape} ({expected} values)"
        )
    return array.tobytes()


def outputs_to_json(response: pb.ModelInferResponse) -> list[dict[str, Any]]:
    """The response's outputs as JSON tensors (flat ``data`` in row-major order)."""
    outputs = []
    for index, output in enumerate(response.outputs):
        dtype = DTYPES.get(output.datatype)
        if dtype is None:
            raise InferenceFailedError(f"output {output.name!r} has datatype {output.datatype!r}")
        if index < len(response.raw_output_contents):
            data = np.frombuffer(response.raw_output_contents[index], dtype=dtype).tolist()
        else:
            data = _typed_contents(output.datatype, output.contents)
        outputs.append(
            {
                "name": output.name,
                "datatype": output.datatype,
                "shape": list(output.shape),
                "data": data,
            }
        )
    return outputs


def _typed_contents(datatype: str, contents: pb.InferTensorContents) -> list[Any]:
    if datatype == "BOOL":
        return list(contents.bool_contents)
    if datatype in ("FP32", "FP16"):
        return list(contents.fp32_contents)
    if datatype == "FP64":
        return list(contents.fp64_contents)
    if datatype in ("INT64",):
        return list(contents.int64_contents)
    if datatype.startswith("INT"):
        return list(contents.int_contents)
    if datatype == "UINT64":
        return list(contents.uint64_contents)
    return list(contents.uint_contents)
