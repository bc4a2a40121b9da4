"""JSON tensors ↔ raw contents."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_gateway.errors import BadRequestError
from mlops_gateway.predictor import decode_base64
from mlops_gateway.tensors import outputs_to_json, to_raw


def test_nested_data_becomes_little_endian_bytes() -> None:
    raw = to_raw("x", "FP32", [2, 2], [[1, 2], [3, 4]])
    assert np.frombuffer(raw, "<f4").tolist() == [1, 2, 3, 4]


def test_shape_mismatch_is_refused_with_what_to_fix() -> None:
    with pytest.raises(BadRequestError, match=r"3 values do not fill shape \[2, 2\]"):
        to_raw("x", "FP32", [2, 2], [1, 2, 3])


def test_unknown_datatype_is_refused() -> None:
    with pytest.raises(BadRequestError, match="not supported"):
        to_raw("x", "COMPLEX", [1], [1])


def test_data_that_is_not_numbers_is_refused() -> None:
    with pytest.raises(BadRequestError, match="does not fit FP32"):
        to_raw("x", "FP32", [1], ["a"])


def test_raw_outputs_become_flat_json() -> None:
    response = pb.ModelInferResponse(
        outputs=[pb.ModelInferResponse.InferOutputTensor(name="p", datatype="FP32", shape=[1, 2])],
        raw_output_contents=[np.array([0.25, 0.75], "<f4").tobytes()],
    )
    assert outputs_to_json(response) == [
        {"name": "p", "datatype": "FP32", "shape": [1, 2], "data": [0.25, 0.75]}
    ]


def test_typed_outputs_become_flat_json() -> None:
    output = pb.ModelInferResponse.InferOutputTensor(
        name="labels",
        datatype="INT64",
        shape=[2],
        contents=pb.InferTensorContents(int64_contents=[3, 7]),
    )
    response = pb.ModelInferResponse(outputs=[output])
    assert outputs_to_json(response)[0]["data"] == [3, 7]


def test_base64_with_data_url_prefix_decodes() -> None:
    assert decode_base64("data:image/png;base64,aGVsbG8=") == b"hello"


def test_bad_base64_is_an_invalid_image() -> None:
    from mlops_common.errors import InvalidImageError

    with pytest.raises(InvalidImageError, match="image 3 is not valid base64"):
        decode_base64("not base64!", 3)


def test_bytes_tensors_travel_as_length_prefixed_strings() -> None:
    from mlops_gateway.texts import decode_strings, encode_strings

    raw = to_raw("text", "BYTES", [2, 1], [["the match"], ["é"]])
    assert decode_strings(raw) == ["the match", "é"]
    with pytest.raises(BadRequestError, match="BYTES data holds strings, not int"):
        to_raw("text", "BYTES", [2], ["a", 3])
    with pytest.raises(BadRequestError, match=r"1 strings do not fill shape \[2\]"):
        to_raw("text", "BYTES", [2], ["a"])
    response = pb.ModelInferResponse()
    response.outputs.add(name="tokens", datatype="BYTES", shape=[2])
    response.raw_output_contents.append(encode_strings(["a", "b c"]))
    assert outputs_to_json(response) == [
        {"name": "tokens", "datatype": "BYTES", "shape": [2], "data": ["a", "b c"]}
    ]
