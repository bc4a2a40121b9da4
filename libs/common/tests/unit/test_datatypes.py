"""The protocol datatype table: little-endian dtypes, and typed-contents fields the proto has."""

from __future__ import annotations

import re

import pytest

from mlops_common.datatypes import DATATYPES
from mlops_common.proto import grpc_service_pb2 as pb


@pytest.mark.parametrize("name", list(DATATYPES))
def test_every_datatype_is_little_endian_with_a_real_contents_field(name: str) -> None:
    dtype, field = DATATYPES[name]
    assert dtype == dtype.newbyteorder("<")
    bits = re.sub(r"\D", "", name) or "8"  # BOOL: one byte
    assert dtype.itemsize * 8 == int(bits)
    assert not field or field in pb.InferTensorContents.DESCRIPTOR.fields_by_name
