"""Request limits as pure ASGI middleware: body size (413) and a per-client rate (429)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops_gateway.errors import error_response

#: Paths never rate limited: probes and scrapes must always get through.
UNLIMITED_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_TRACKED_CLIENTS: Final = 10_000


class TokenBucketLimiter:
    """A token bucket per client key, holding at most :data:`MAX_TRACKED_CLIENTS` buckets."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, key: str, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        if len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


class LimitsMiddleware:
    """Refuse bodies above ``max_body_bytes`` (413) and clients above their rate (429)."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, limiter: TokenBucketLimiter | None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.limiter is not None and scope["path"] not in UNLIMITED_PATHS:
            client = scope.get("client")
            wait = self.limiter.acquire(client[0] if client else "unknown")
            if wait > 0:
                response = error_response(
                    429,
                    "rate_limited",
                    f"too many requests: at most {self.limiter.rate:g}/s "
                    f"(burst {self.limiter.burst:g}); retry in {wait:.2f}s",
                    {"Retry-After": str(max(1, math.ceil(wait)))},
                )
                await response(scope, receive, send)
                return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_body_bytes:
                    await self._too_large(scope, receive, send)
                    return
                # The server holds the body to its declared length: nothing more to watch.
                await self.app(scope, receive, send)
                return
        received = 0
        responded = False

        async def limited_receive() -> Message:
            # Past the limit: answer 413 ourselves and tell the app the client left.
            nonlocal received, responded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    if not responded:
                        responded = True
                        await self._too_large(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not responded:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"request body is larger than {self.max_body_bytes:,} bytes",
        )
        await response(scope, receive, send)
