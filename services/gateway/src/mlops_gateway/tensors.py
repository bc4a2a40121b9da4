"""JSON tensors of the Open Inference Protocol REST API ↔ raw gRPC tensor contents.

A ``BYTES`` tensor's JSON ``data`` holds strings (flat or nested, row-major); on the wire it is
Triton's raw layout (each element a 4-byte little-endian length, then its UTF-8 bytes), and a
``BYTES`` output comes back as strings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops_common.datatypes import DATATYPES
from mlops_common.proto import grpc_service_pb2 as pb
from mlops_gateway.errors import BadRequestError, InferenceFailedError
from mlops_gateway.texts import BYTES, decode_strings, encode_strings


def _flat_strings(name: str, data: Any) -> list[str]:
    flat: list[str] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, str):
            flat.append(item)
        else:
            raise BadRequestError(
                f"input {name!r}: BYTES data holds strings, not {type(item).__name__} "
                f"({item!r:.40})"
            )
    return flat


def _strings_to_raw(name: str, shape: list[int], data: Any) -> bytes:
    items = _flat_strings(name, data)
    expected = int(np.prod(shape)) if shape else 1
    if len(items) != expected:
        raise BadRequestError(
            f"input {name!r}: {len(items)} strings do not fill shape {shape} ({expected} values)"
        )
    return encode_strings(items)


def to_raw(name: str, datatype: str, shape: list[int], data: Any) -> bytes:
    """Raw little-endian bytes of one JSON input tensor, checked against its shape."""
    entry = DATATYPES.get(datatype)
    if entry is None:
        if datatype == BYTES:
            return _strings_to_raw(name, shape, data)
        raise BadRequestError(
            f"input {name!r}: datatype {datatype!r} is not supported; use one of "
            + ", ".join([*DATATYPES, BYTES])
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
        data: list[Any]
        if entry is None:
            if output.datatype != BYTES:
                raise InferenceFailedError(
                    f"output {output.name!r} has datatype {output.datatype!r}"
                )
            if index < len(response.raw_output_contents):
                data = decode_strings(response.raw_output_contents[index])
            else:
                data = [b.decode("utf-8", errors="replace") for b in output.contents.bytes_contents]
        elif index < len(response.raw_output_contents):
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
