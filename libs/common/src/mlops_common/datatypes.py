"""Open Inference Protocol tensor datatypes: their numpy dtypes and typed-contents fields.

The one table of the protocol's numeric datatypes, shared by the inference server (decoding
requests) and the gateway (JSON tensors ↔ raw contents). Raw contents are little-endian and
row-major, so every dtype here is little-endian. ``BYTES`` is not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import numpy as np


class Datatype(NamedTuple):
    """How one protocol datatype is held: its numpy dtype and its ``InferTensorContents`` field.

    ``contents_field`` is ``""`` for ``FP16``, which the protocol sends only as raw contents.
    """

    dtype: np.dtype[Any]
    contents_field: str


#: Protocol datatype → :class:`Datatype`.
DATATYPES: Final[Mapping[str, Datatype]] = {
    "BOOL": Datatype(np.dtype("?"), "bool_contents"),
    "INT8": Datatype(np.dtype("i1"), "int_contents"),
    "INT16": Datatype(np.dtype("<i2"), "int_contents"),
    "INT32": Datatype(np.dtype("<i4"), "int_contents"),
    "INT64": Datatype(np.dtype("<i8"), "int64_contents"),
    "UINT8": Datatype(np.dtype("u1"), "uint_contents"),
    "UINT16": Datatype(np.dtype("<u2"), "uint_contents"),
    "UINT32": Datatype(np.dtype("<u4"), "uint_contents"),
    "UINT64": Datatype(np.dtype("<u8"), "uint64_contents"),
    "FP16": Datatype(np.dtype("<f2"), ""),
    "FP32": Datatype(np.dtype("<f4"), "fp32_contents"),
    "FP64": Datatype(np.dtype("<f8"), "fp64_contents"),
}
