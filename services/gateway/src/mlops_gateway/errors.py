"""Domain errors of the gateway and their one mapping to HTTP.

Every error answer has the shape ``{"error": {"code": ..., "message": ...}}``. Domain errors carry
their status; the shared input errors of :mod:`mlops_common.errors` are mapped here too, as are
FastAPI's validation errors and Starlette's HTTP exceptions (unknown route, wrong method).
"""

from __future__ import annotations

import logging
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlops_common.errors import (
    EmptyInputError,
    ImageTooLargeError,
    InputError,
    InvalidFeaturesError,
    InvalidImageError,
)

log = logging.getLogger(__name__)


class GatewayError(Exception):
    """A failure the caller is told about, with its HTTP status and a stable code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self, message: str, *, headers: dict[str, str] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers
        if code is not None:
            self.code = code


class BadRequestError(GatewayError):
    """The request cannot be understood (not the body's schema: that is 422)."""

    status, code = 400, "bad_request"


class NotFoundError(GatewayError):
    """The named thing (prediction id, job, model version) does not exist."""

    status, code = 404, "not_found"


class ConflictError(GatewayError):
    """The request conflicts with the resource's state (e.g. retraining a model with no recipe)."""

    status, code = 409, "conflict"


class InvalidLabelError(GatewayError):
    """A feedback label that is not one of the answering model's classes."""

    status, code = 422, "invalid_label"


class ModelNotServedError(GatewayError):
    """The named model is not served (404), naming the served ones."""

    status, code = 404, "model_not_found"


class ModelNotReadyError(GatewayError):
    """The named model is served but not ready (loading, or its version failed to load)."""

    status, code = 503, "model_not_ready"


class UnauthorizedError(GatewayError):
    """No API key on an admin route."""

    status, code = 401, "unauthorized"


class ForbiddenError(GatewayError):
    """A wrong API key on an admin route."""

    status, code = 403, "forbidden"


class PayloadTooLargeError(GatewayError):
    """The body exceeds the configured size."""

    status, code = 413, "payload_too_large"


class TextTooLongError(GatewayError):
    """A text longer than the gateway takes (``GATEWAY_MAX_TEXT_CHARS``)."""

    status, code = 413, "text_too_long"


class UnsupportedMediaTypeError(GatewayError):
    """The body's or the upload's content type is not one we read."""

    status, code = 415, "unsupported_media_type"


class RateLimitedError(GatewayError):
    """The client sent more requests than its rate allows."""

    status, code = 429, "rate_limited"


class InferenceRejectedError(GatewayError):
    """The inference service refused the request as invalid."""

    status, code = 400, "inference_rejected"


class InferenceFailedError(GatewayError):
    """The inference service failed in a way that is not the caller's fault."""

    status, code = 502, "inference_failed"


class DependencyUnavailableError(GatewayError):
    """A service the gateway needs (inference, Redis, MLflow, drift, broker) is down."""

    status, code = 503, "dependency_unavailable"

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message, headers={"Retry-After": "1"})
        self.code = f"{dependency}_unavailable"


class DependencyFailedError(GatewayError):
    """A dependency answered, but not as its API says it answers."""

    status, code = 502, "dependency_failed"

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message)
        self.code = f"{dependency}_failed"


class RelayedError(GatewayError):
    """A dependency's own error answer (status, code, message), passed on as it came."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, headers=headers)
        self.status = status
        self.code = code


class DeadlineExceededError(GatewayError):
    """A dependency did not answer within its deadline."""

    status, code = 504, "deadline_exceeded"


#: Status of each shared input error (an undecodable image is 400; too large is 413).
_INPUT_STATUS: Final[dict[type[InputError], int]] = {
    EmptyInputError: 422,
    InvalidFeaturesError: 422,
    InvalidImageError: 400,
    ImageTooLargeError: 413,
}


def error_body(code: str, message: str) -> dict[str, Any]:
    """The one error shape."""
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error answer in the one shape."""
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def input_error_status(exc: InputError) -> int:
    """HTTP status of a shared input error."""
    for kind in type(exc).__mro__:
        if kind in _INPUT_STATUS:
            return _INPUT_STATUS[kind]
    return 422


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


async def _on_gateway_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)  # nosec B101: registered for this exception class; narrows the type for mypy
    if exc.status >= 500:
        log.warning("request failed", extra={"code": exc.code, "detail": exc.message})
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _on_input_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)  # nosec B101: registered for this exception class; narrows the type for mypy
    return error_response(input_error_status(exc), exc.code, str(exc))


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # nosec B101: registered for this exception class; narrows the type for mypy
    return error_response(422, "validation_error", _validation_message(exc))


async def _on_http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # nosec B101: registered for this exception class; narrows the type for mypy
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


async def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error; see the gateway's logs")


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the one JSON shape with its status."""
    app.add_exception_handler(GatewayError, _on_gateway_error)
    app.add_exception_handler(InputError, _on_input_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
