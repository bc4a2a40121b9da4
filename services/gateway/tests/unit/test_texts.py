"""Text models on the wire: the BYTES request, the checks of ``texts``, the logged values."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from mlops_common.errors import EmptyInputError, InputError
from mlops_common.model_spec import parse_spec
from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.testing.iris import iris_spec
from mlops_common.testing.news import news_test_spec
from mlops_gateway.errors import InferenceFailedError, PayloadTooLargeError, TextTooLongError
from mlops_gateway.texts import (
    check_texts,
    decode_strings,
    encode_strings,
    logged_values,
    text_request,
)


def _spec(shape: list[int]) -> object:
    data = news_test_spec().model_dump(mode="json", exclude_none=True)
    data["input"]["shape"] = shape
    # value columns in an order that differs from the outputs' order
    data["monitored"] = [
        {"name": "oov", "source": "output:oov_share:0"},
        {"name": "e1", "source": "output:embedding:1"},
        {"name": "n", "source": "output:n_tokens:0"},
        {"name": "prediction", "source": "output:label"},
    ]
    return parse_spec(data)


def test_strings_round_trip_in_the_length_prefixed_layout() -> None:
    raw = encode_strings(["ab", "", "é"])
    assert raw == b"".join(
        struct.pack("<I", len(item)) + item for item in (b"ab", b"", "é".encode())
    )
    assert decode_strings(raw) == ["ab", "", "é"]
    with pytest.raises(InferenceFailedError):
        decode_strings(struct.pack("<I", 5) + b"ab")


@pytest.mark.parametrize(("shape", "sent"), [([-1], [2]), ([-1, 1], [2, 1])])
def test_the_request_is_bytes_shaped_as_the_spec_asking_for_the_logged_outputs(
    shape: list[int], sent: list[int]
) -> None:
    request = text_request("news", _spec(shape), ["a b", "c"], "req-1")  # type: ignore[arg-type]
    (tensor,) = request.inputs
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("text", "BYTES", sent)
    assert decode_strings(request.raw_input_contents[0]) == ["a b", "c"]
    assert [o.name for o in request.outputs] == [
        "probabilities",
        "oov_share",
        "embedding",
        "n_tokens",
    ]
    assert request.id == "req-1"


def _response(outputs: dict[str, np.ndarray]) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(model_name="news", model_version="1")
    for name, array in outputs.items():
        response.outputs.add(name=name, datatype="FP32", shape=list(array.shape))
        response.raw_output_contents.append(array.astype("<f4").tobytes())
    return response


def test_logged_values_follow_the_monitored_order() -> None:
    embedding = np.arange(10, dtype=np.float32).reshape(2, 5)
    response = _response(
        {
            "probabilities": np.full((2, 5), 0.2, np.float32),
            "embedding": embedding,
            "n_tokens": np.array([3.0, 4.0], np.float32),
            "oov_share": np.array([0.5, 0.25], np.float32),
        }
    )
    values = logged_values(response, _spec([-1]), 2)  # type: ignore[arg-type]
    assert values.tolist() == [[0.5, 1.0, 3.0], [0.25, 6.0, 4.0]]
    with pytest.raises(InferenceFailedError, match="no 'n_tokens' output"):
        logged_values(
            _response({"embedding": embedding, "oov_share": embedding[:, 0]}), _spec([-1]), 2
        )  # type: ignore[arg-type]


def test_texts_are_checked_against_the_model_and_the_limits() -> None:
    spec = news_test_spec()
    assert check_texts("news", spec, ["a", "é" * 4], max_texts=2, max_chars=4) == ["a", "é" * 4]
    with pytest.raises(EmptyInputError, match="no texts"):
        check_texts("news", spec, [], max_texts=2, max_chars=4)
    with pytest.raises(PayloadTooLargeError, match="3 texts in one request; the limit is 2"):
        check_texts("news", spec, ["a"] * 3, max_texts=2, max_chars=4)
    with pytest.raises(TextTooLongError, match="text 1 has 5 characters; the limit is 4"):
        check_texts("news", spec, ["a", "abcde"], max_texts=2, max_chars=4)
    with pytest.raises(InputError, match="text 0 is int, not a string"):
        check_texts("news", spec, [3], max_texts=2, max_chars=4)
    with pytest.raises(InputError, match="takes features input, not 'texts'"):
        check_texts("iris", parse_spec(iris_spec()), ["a"], max_texts=2, max_chars=4)


def test_a_lone_surrogate_is_refused_naming_the_text() -> None:
    from mlops_gateway.texts import InvalidTextError

    with pytest.raises(InvalidTextError, match="text 1 is not valid Unicode"):
        encode_strings(["ok", "bad \ud800"])
