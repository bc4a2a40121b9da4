"""``BYTES`` tensors: Triton's length-prefixed raw layout and ``bytes_contents``, as ``str``."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from mlops_inference.errors import InvalidInputError
from mlops_inference.strings import strings_from_contents, strings_from_raw, strings_to_raw


def _raw(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


def test_raw_elements_decode_to_str_and_back() -> None:
    texts = ["the football match", "", "héllo wörld ✓"]
    array = strings_from_raw("text", _raw(*(t.encode() for t in texts)))
    assert array.dtype == object
    assert array.tolist() == texts
    assert strings_to_raw(array) == _raw(*(t.encode() for t in texts))
    assert strings_from_raw("text", b"").tolist() == []


def test_contents_decode_to_str() -> None:
    array = strings_from_contents("text", [b"a b", "é".encode()])
    assert array.tolist() == ["a b", "é"]
    assert isinstance(array, np.ndarray)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\x05\x00", "ends inside the length of element 0"),
        (_raw(b"ok") + struct.pack("<I", 9) + b"abc", "element 1 declares 9 bytes but only 3"),
        (_raw(b"ok", b"\xff\xfe"), "element 1 is not valid UTF-8"),
    ],
)
def test_malformed_raw_contents_are_refused_naming_the_element(raw: bytes, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        strings_from_raw("text", raw)


def test_invalid_utf8_contents_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="input 'text': element 0 is not valid UTF-8"):
        strings_from_contents("text", [b"\xc3\x28"])
