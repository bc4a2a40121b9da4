"""The prediction routes answered ahead of FastAPI's router: the gateway's hot path.

``POST /v1/predict`` and ``POST /v1/models/{name}/predict`` are most of a gateway's requests,
and FastAPI's routing (a match against every route), dependency injection and exception
middleware cost more than the prediction itself once concurrent predictions share inference
calls (``benchmarks/serving_frameworks.py``). :class:`FastPredict` sits inside the request-context
and limits middleware, so request ids, metrics by route template, body and rate limits and
tracing apply as before, and answers these two routes with the functions their FastAPI routes
call (:func:`~mlops_gateway.api.routes.predict.predict_response`), rendering errors with the app's
own exception handlers: same answers, same error shapes. Everything else, a bad model name
included, goes on to FastAPI, whose routes also document both in the OpenAPI schema.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mlops_gateway.api.routes import models, predict
from mlops_gateway.api.routes.models import MODEL_NAME_PATTERN
from mlops_gateway.api.routes.predict import predict_response

DEFAULT_PATH: Final = "/v1/predict"
NAMED_PREFIX, NAMED_SUFFIX = "/v1/models/", "/predict"
NAMED_PATH: Final = NAMED_PREFIX + "{name}" + NAMED_SUFFIX
_NAME = re.compile(MODEL_NAME_PATTERN)
Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def _route(router: APIRouter, path: str) -> APIRoute:
    """The FastAPI route the fast path stands in for (its template labels the metrics)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == path and "POST" in (route.methods or ()):
            return route
    raise LookupError(f"no POST {path} route")


class FastPredict:
    """Answers the two prediction routes itself; passes every other request on."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self._fastapi = fastapi_app
        self._routes = (_route(predict.router, DEFAULT_PATH), _route(models.router, NAMED_PATH))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        is_post = scope["type"] == "http" and scope["method"] == "POST"
        target = self._target(scope["path"]) if is_post else None
        if target is None:
            await self.app(scope, receive, send)
            return
        scope["route"], name = target
        request = Request(scope, receive)
        try:
            response = await predict_response(request, self._fastapi.state.services.predictor, name)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise  # unexpected: the server-error middleware answers 500, as for any route
            answer = handler(request, exc)
            response = answer if isinstance(answer, Response) else await answer
        await response(scope, receive, send)

    def _target(self, path: str) -> tuple[APIRoute, str | None] | None:
        """The route ``path`` is for and the model it names (None: the default model); None for
        any other path."""
        if path == DEFAULT_PATH:
            return self._routes[0], None
        if path.startswith(NAMED_PREFIX) and path.endswith(NAMED_SUFFIX):
            name = path[len(NAMED_PREFIX) : -len(NAMED_SUFFIX)]
            if _NAME.match(name):
                return self._routes[1], name
        return None

    def _handler(self, exc: Exception) -> Handler | None:
        """The app's handler of ``exc`` (most specific class first), not the catch-all one."""
        handlers: dict[Any, Handler] = self._fastapi.exception_handlers
        for kind in type(exc).__mro__:
            if kind is Exception:
                return None
            if kind in handlers:
                return handlers[kind]
        return None
