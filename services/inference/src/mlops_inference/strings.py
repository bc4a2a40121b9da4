"""``BYTES`` tensors: the protocol's strings, held as numpy object arrays of ``str``.

A ``BYTES`` input comes either as ``contents.bytes_contents`` (one protobuf ``bytes`` per
element) or as one ``raw_input_contents`` entry in Triton's layout: each element is a 4-byte
little-endian length followed by that many bytes (``tritonclient`` sends this). Elements are
UTF-8 text: they are decoded to ``str`` here, so the graph gets what onnxruntime takes for a
``tensor(string)`` input, and invalid UTF-8 is refused with the element's position.
Numeric tensors never come through this module.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np

from mlops_inference.errors import InvalidInputError

BYTES: Final = "BYTES"
#: How a ``BYTES`` tensor is held: one Python ``str`` per element.
OBJECT: Final = np.dtype(object)
_LENGTH: Final = struct.Struct("<I")


def _text(name: str, index: int, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"input {name!r}: element {index} is not valid UTF-8 text ({exc.reason} at byte "
            f"{exc.start}); send text encoded as UTF-8"
        ) from None


def _array(items: Sequence[str]) -> np.ndarray:
    array = np.empty(len(items), dtype=OBJECT)
    array[:] = items
    return array


def strings_from_contents(name: str, items: Iterable[bytes]) -> np.ndarray:
    """A flat object array of the ``bytes_contents`` elements, decoded as UTF-8."""
    return _array([_text(name, index, data) for index, data in enumerate(items)])


def strings_from_raw(name: str, raw: bytes) -> np.ndarray:
    """A flat object array of the length-prefixed elements of ``raw`` (Triton's layout)."""
    items: list[str] = []
    offset, size = 0, len(raw)
    view = memoryview(raw)
    while offset < size:
        index = len(items)
        if offset + 4 > size:
            raise InvalidInputError(
                f"raw content of BYTES input {name!r} ends inside the length of element {index} "
                "(each element is a 4-byte little-endian length, then its bytes)"
            )
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > size:
            raise InvalidInputError(
                f"raw content of BYTES input {name!r}: element {index} declares {length} bytes "
                f"but only {size - offset} remain (each element is a 4-byte little-endian "
                "length, then its bytes)"
            )
        items.append(_text(name, index, bytes(view[offset : offset + length])))
        offset += length
    return _array(items)


def _element_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def strings_to_raw(array: np.ndarray) -> bytes:
    """``array``'s elements (``str`` or ``bytes``), row-major, in Triton's raw layout."""
    parts: list[bytes] = []
    for value in np.asarray(array, dtype=OBJECT).reshape(-1):
        data = _element_bytes(value)
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)
