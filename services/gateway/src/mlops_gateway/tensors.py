"""JSON tensors of the Open Inference Protocol REST API ↔ raw gRPC tensor contents."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops_common.datatypes import DATATYPES
from mlops_common.proto import grpc_service_pb2 as pb
from mlops_gateway.errors import BadRequestError, InferenceFailedError


def to_raw(name: str, datatype: str, shape: list[int], data: Any) -> bytes:
    """Raw little-endian bytes of one JSON input tensor, checked against its shape."""
    entry = DATATYPES.get(datatype)
    if entry is None:
        raise BadRequestError(
            f"input {name!r}: datatype {datatype!r} is not supported; use one of "
            + ", ".join(DATATYPES)
        )
    try:
        array = np.asarray(data, dtype=entry.dtype)
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
        entry = DATATYPES.get(output.datatype)
        if entry is None:
            raise InferenceFailedError(f"output {output.name!r} has datatype {output.datatype!r}")
        if index < len(response.raw_output_contents):
            data = np.frombuffer(response.raw_output_contents[index], dtype=entry.dtype).tolist()
        elif entry.contents_field:
            data = list(getattr(output.contents, entry.contents_field))
        else:  # FP16 travels only as raw contents
            raise InferenceFailedError(f"output {output.name!r}: FP16 without raw contents")
        outputs.append(
            {
                "name": output.name,
                "datatype": output.datatype,
                "shape": list(output.shape),
                "data": data,
            }
        )
    return outputs
