"""Error mapping: shared input errors and gRPC status codes to HTTP."""

from __future__ import annotations

import grpc
import pytest

from mlops_common.errors import (
    EmptyInputError,
    ImageTooLargeError,
    InvalidFeaturesError,
    InvalidImageError,
)
from mlops_gateway.errors import input_error_status
from mlops_gateway.inference import map_rpc_error


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (EmptyInputError("x"), 422),
        (InvalidFeaturesError("x"), 422),
        (InvalidImageError("x"), 400),
        (ImageTooLargeError("x"), 413),
    ],
)
def test_input_errors_map_to_their_status(error: Exception, status: int) -> None:
    assert input_error_status(error) == status  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status", "error_code"),
    [
        (grpc.StatusCode.UNAVAILABLE, 503, "inference_unavailable"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504, "deadline_exceeded"),
        (grpc.StatusCode.NOT_FOUND, 404, "not_found"),
        (grpc.StatusCode.INVALID_ARGUMENT, 400, "inference_rejected"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 503, "inference_unavailable"),
        (grpc.StatusCode.INTERNAL, 502, "inference_failed"),
    ],
)
def test_grpc_codes_map_to_http(code: grpc.StatusCode, status: int, error_code: str) -> None:
    rpc_error = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "boom")
    mapped = map_rpc_error(rpc_error, "ModelInfer")
    assert (mapped.status, mapped.code) == (status, error_code)
