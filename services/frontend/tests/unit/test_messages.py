"""Every failure reads as one sentence a person can act on."""

from __future__ import annotations

from mlops_frontend.api import MalformedAnswerError
from mlops_frontend.client import ApiError, ServiceTimeoutError, ServiceUnavailableError
from mlops_frontend.ui import describe


def api_error(status: int, code: str, message: str = "detail") -> ApiError:
    return ApiError(message, service="gateway", url="http://g/v1/x", status=status, code=code)


def test_unreachable_names_the_service_and_the_reason() -> None:
    error = ServiceUnavailableError(
        "cannot reach the gateway at http://g: Connection refused",
        service="gateway",
        url="http://g",
    )
    assert describe(error) == (
        "**The gateway is unreachable** at `http://g` (Connection refused). Is it running?"
    )


def test_timeout_auth_limit_and_dependency_messages() -> None:
    slow = ServiceTimeoutError("slow", service="gateway", url="http://g", timeout_s=2.0)
    assert "no answer within 2 s" in describe(slow)
    assert "Admin key required" in describe(api_error(401, "unauthorized"))
    assert "Admin key refused" in describe(api_error(403, "forbidden"))
    assert "rate-limiting" in describe(api_error(429, "rate_limited"))
    assert "inference service is down" in describe(api_error(503, "inference_unavailable"))
    assert "A service the gateway needs is down" in describe(api_error(503, "queue_unavailable"))
    assert describe(api_error(404, "not_found", "no job")) == "**no job** (`not_found`, HTTP 404)"
    assert "Unexpected answer" in describe(MalformedAnswerError("x"))


def test_a_payload_the_gateway_finds_too_large_gives_its_reason() -> None:
    message = "text 0 has 25,000 characters; the limit is 20,000 (GATEWAY_MAX_TEXT_CHARS)"
    described = describe(api_error(413, "text_too_long", message))
    assert described.startswith("**Too large for the gateway**: text 0 has 25,000 characters")
    assert "a shorter text" in described
