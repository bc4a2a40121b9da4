"""Translation between Open Inference Protocol messages and the data plane's plain types.

Inputs may come as ``raw_input_contents`` (little-endian, row-major bytes) or as typed
``contents``; outputs always go back as ``raw_output_contents``, as stock clients expect.
``BYTES`` (text) tensors are decoded by :mod:`mlops_inference.strings`; the numeric datatypes
are looked up first, so a numeric request does no extra work for them.
"""

from __future__ import annotations

import numpy as np

from mlops_common.datatypes import DATATYPES, Datatype
from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.segments import SEGMENT_IDS, SEGMENT_ROWS
from mlops_inference.errors import InvalidInputError
from mlops_inference.messages import InferRequest, InferResponse, InputTensor
from mlops_inference.strings import (
    BYTES,
    strings_from_contents,
    strings_from_raw,
    strings_to_raw,
)

#: Request parameters naming the merged requests of a call (see :mod:`mlops_common.segments`).
SEGMENT_KEYS = (SEGMENT_IDS, SEGMENT_ROWS)


def _datatype(name: str, datatype: str) -> Datatype:
    entry = DATATYPES.get(datatype)
    if entry is None:
        raise InvalidInputError(
            f"input {name!r} has unknown or unsupported datatype {datatype!r}; "
            f"use one of {', '.join(DATATYPES)} or {BYTES}"
        )
    return entry


def _from_raw(name: str, datatype: str, raw: bytes) -> np.ndarray:
    entry = DATATYPES.get(datatype)
    if entry is None and datatype == BYTES:
        return strings_from_raw(name, raw)
    dtype = (entry or _datatype(name, datatype)).dtype
    if len(raw) % dtype.itemsize:
        raise InvalidInputError(
            f"raw content of input {name!r} is {len(raw)} bytes, not a whole number of "
            f"{datatype} values ({dtype.itemsize} bytes each)"
        )
    return np.frombuffer(raw, dtype=dtype)


def _from_contents(tensor: pb.ModelInferRequest.InferInputTensor) -> np.ndarray:
    entry = DATATYPES.get(tensor.datatype)
    if entry is None and tensor.datatype == BYTES:
        return strings_from_contents(tensor.name, tensor.contents.bytes_contents)
    dtype, field = entry or _datatype(tensor.name, tensor.datatype)
    if not field:
        raise InvalidInputError(
            f"input {tensor.name!r} is {tensor.datatype}: send it as raw_input_contents"
        )
    return np.asarray(getattr(tensor.contents, field), dtype=dtype)


def decode_request(request: pb.ModelInferRequest) -> InferRequest:
    """Turn a ``ModelInferRequest`` into an :class:`InferRequest`; malformed → InvalidInputError."""
    raw = request.raw_input_contents
    if not request.inputs:
        raise InvalidInputError("the request has no inputs")
    if raw and len(raw) != len(request.inputs):
        raise InvalidInputError(
            f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs: send one per input"
        )
    inputs = []
    for index, tensor in enumerate(request.inputs):
        if raw:
            if tensor.HasField("contents"):
                raise InvalidInputError(
                    f"input {tensor.name!r} has both typed contents and raw_input_contents"
                )
            data = _from_raw(tensor.name, tensor.datatype, raw[index])
        else:
            data = _from_contents(tensor)
        inputs.append(InputTensor(tensor.name, tensor.datatype, tuple(tensor.shape), data))
    parameters = request.parameters
    return InferRequest(
        model_name=request.model_name,
        model_version=request.model_version,
        id=request.id,
        inputs=inputs,
        outputs=[output.name for output in request.outputs],
        segments={key: parameters[key].string_param for key in SEGMENT_KEYS if key in parameters}
        if parameters
        else {},
    )


def encode_response(response: InferResponse) -> pb.ModelInferResponse:
    """Turn an :class:`InferResponse` into a ``ModelInferResponse`` with raw output contents."""
    message = pb.ModelInferResponse(
        model_name=response.model_name,
        model_version=response.model_version,
        id=response.id,
    )
    for spec, array in response.outputs:
        message.outputs.add(name=spec.name, datatype=spec.datatype, shape=array.shape)
        if spec.dtype.hasobject:  # a BYTES output: length-prefixed elements
            message.raw_output_contents.append(strings_to_raw(array))
            continue
        message.raw_output_contents.append(
            np.ascontiguousarray(array, dtype=spec.dtype.newbyteorder("<")).tobytes()
        )
    return message
