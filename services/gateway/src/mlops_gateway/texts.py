"""Text models on the wire: texts → a ``BYTES`` tensor, an answer → probabilities and the
values a text model's traffic logs.

A ``BYTES`` tensor travels as one ``raw_input_contents`` entry in Triton's layout (each element a
4-byte little-endian length, then its UTF-8 bytes), the layout the inference server and stock
clients read. A text model's answer holds the probabilities and the other outputs its spec's
``output:<tensor>:<i>`` columns read (:attr:`ModelSpec.value_outputs`); the logged values of each
instance are those columns' values in monitored order (:attr:`ModelSpec.output_values`).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray

from mlops_common.datatypes import DATATYPES
from mlops_common.errors import EmptyInputError, InputError
from mlops_common.model_spec import ModelSpec
from mlops_common.proto import grpc_service_pb2 as pb
from mlops_gateway.errors import InferenceFailedError, PayloadTooLargeError, TextTooLongError

BYTES: Final = "BYTES"
_LENGTH: Final = struct.Struct("<I")


class InvalidTextError(InputError):
    """A text that is not Unicode text UTF-8 can carry (a lone surrogate, which JSON's
    ``\\ud800`` escapes can produce)."""

    code = "invalid_text"


def encode_strings(items: Iterable[str | bytes]) -> bytes:
    """``items`` (``str`` as UTF-8) in Triton's raw ``BYTES`` layout.

    Raises:
        InvalidTextError: a ``str`` holds a lone surrogate (422, naming the text).
    """
    parts: list[bytes] = []
    for index, item in enumerate(items):
        try:
            data = item if isinstance(item, bytes) else item.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidTextError(
                f"text {index} is not valid Unicode: it holds a lone surrogate "
                f"{exc.object[exc.start : exc.end]!r} at character {exc.start}"
            ) from None
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_strings(raw: bytes) -> list[str]:
    """The elements of a raw ``BYTES`` content as text (invalid UTF-8 replaced, not refused:
    this reads answers, which a client asked for)."""
    items: list[str] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InferenceFailedError("inference answered a BYTES output cut inside a length")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise InferenceFailedError("inference answered a BYTES output cut inside an element")
        items.append(raw[offset : offset + length].decode("utf-8", errors="replace"))
        offset += length
    return items


def check_texts(
    name: str, spec: ModelSpec, texts: Sequence[object], *, max_texts: int, max_chars: int
) -> list[str]:
    """``texts`` checked for the model ``name``: a text model, 1..``max_texts`` strings of at
    most ``max_chars`` characters each.

    Raises:
        InputError: the model does not take text, or a text is not a string (422).
        EmptyInputError: no texts (422).
        PayloadTooLargeError: more than ``max_texts`` texts (413).
        TextTooLongError: a text longer than ``max_chars``, naming it (413).
    """
    if spec.input.kind != "text":
        raise InputError(
            f"model {name!r} takes {spec.input.kind} input, not 'texts': send 'instances'"
            + (" or 'images'" if spec.input.kind == "image" else "")
        )
    if not texts:
        raise EmptyInputError("no texts: send at least one string")
    if len(texts) > max_texts:
        raise PayloadTooLargeError(
            f"{len(texts)} texts in one request; the limit is {max_texts} (GATEWAY_MAX_INSTANCES)"
        )
    checked: list[str] = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"text {index} is {type(text).__name__}, not a string")
        if len(text) > max_chars:
            raise TextTooLongError(
                f"text {index} has {len(text):,} characters; the limit is {max_chars:,} "
                "(GATEWAY_MAX_TEXT_CHARS)"
            )
        checked.append(text)
    return checked


def text_request(
    name: str, spec: ModelSpec, texts: Sequence[str], request_id: str
) -> pb.ModelInferRequest:
    """The ``ModelInfer`` call of ``texts`` for a text model: shape ``[n]`` or ``[n, 1]`` as its
    spec's input, asking for the probabilities and the outputs its traffic logs."""
    shape = [len(texts)] if len(spec.input.shape) == 1 else [len(texts), 1]
    wanted = [spec.output.tensor, *spec.value_outputs]
    return pb.ModelInferRequest(
        model_name=name,
        id=request_id,
        inputs=[
            pb.ModelInferRequest.InferInputTensor(
                name=spec.input.tensor, datatype=BYTES, shape=shape
            )
        ],
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name=n) for n in wanted],
        raw_input_contents=[encode_strings(texts)],
    )


def output_rows(response: pb.ModelInferResponse, name: str, n: int) -> NDArray[np.float32]:
    """The numeric output ``name`` of ``response`` as float32 ``[n, values per instance]``."""
    for index, tensor in enumerate(response.outputs):
        if tensor.name != name:
            continue
        entry = DATATYPES.get(tensor.datatype)
        if entry is None:
            raise InferenceFailedError(
                f"inference answered output {name!r} as {tensor.datatype}, not numbers"
            )
        if index < len(response.raw_output_contents):
            array = np.frombuffer(response.raw_output_contents[index], dtype=entry.dtype)
        elif entry.contents_field:
            array = np.asarray(getattr(tensor.contents, entry.contents_field), dtype=entry.dtype)
        else:
            raise InferenceFailedError(f"inference answered output {name!r} without contents")
        shape = list(tensor.shape)
        if not shape or shape[0] != n or array.size != math.prod(shape):
            raise InferenceFailedError(
                f"inference answered output {name!r} of shape {shape} with {array.size} values "
                f"for {n} instances"
            )
        return array.astype(np.float32, copy=False).reshape(n, -1)
    raise InferenceFailedError(f"inference answer has no {name!r} output")


def logged_values(response: pb.ModelInferResponse, spec: ModelSpec, n: int) -> NDArray[np.float32]:
    """Each instance's values of the spec's ``output:<tensor>:<i>`` columns, in monitored
    order: float32 ``[n, len(spec.output_values)]`` (what its traffic entries log)."""
    rows = {tensor: output_rows(response, tensor, n) for tensor in spec.value_outputs}
    logged = np.empty((n, len(spec.output_values)), dtype=np.float32)
    for column, (tensor, index) in enumerate(spec.output_values):
        values = rows[tensor]
        if index >= values.shape[1]:
            raise InferenceFailedError(
                f"the spec reads value {index} of output {tensor!r}, which has "
                f"{values.shape[1]} per instance"
            )
        logged[:, column] = values[:, index]
    return logged
