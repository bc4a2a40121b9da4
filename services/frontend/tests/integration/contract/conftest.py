"""A real HTTP server answering the gateway's many-models REST contract, for the pages' tests.

It plays the gateway (Starlette under uvicorn on a free loopback port, through
``mlops_common.testing.asgi``) with three served models and keeps every request it receives,
so a test asserts both what a page shows and what it sent:

- ``digits-classifier`` (default): the digits task (``digits-8x8@1``, 64 features in 0..16),
  versions 2 (production) and 1, trainable, no drift check yet (404 ``no_verdict``);
- ``iris-classifier``: 4 features in 0..10 named by its monitored columns, 3 classes,
  imported (``trainable: false``), a drift verdict per feature;
- ``news-classifier``: a text model (``{"texts": [...]}``), 4 classes.

Answers follow the contract: ``GET /v1/models``, ``GET /v1/models/{name}``,
``POST /v1/models/{name}/predict`` (422 on a wrong count or range, 413 ``text_too_long``),
``…/promote``, ``…/retrain`` (409 ``not_trainable``), ``…/drift``, ``…/drift/check``,
``POST /v1/feedback`` (the class index or name), ``GET /v1/jobs/{id}``,
``GET /v1/models/{name}/drift/report``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from mlops_common.testing.asgi import serve_asgi
from mlops_common.testing.servers import free_port

from .served import ADMIN_KEY, DEFAULT, served_models, text_too_long

T = TypeVar("T")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@dataclass
class ContractGateway:
    """The stand-in's state (mutable by tests) and every JSON request it received."""

    models: dict[str, dict[str, Any]] = field(default_factory=served_models)
    received: list[tuple[str, str, Any]] = field(default_factory=list)
    predictions: dict[str, str] = field(default_factory=dict)
    #: The code of the 404 before a first check (the gateway may relay it as ``not_found``).
    no_verdict_code: str = "no_verdict"
    #: The gateway's ``GATEWAY_MAX_TEXT_CHARS`` (413 ``text_too_long`` above).
    max_text_chars: int = 20_000
    url: str = ""

    def reset(self) -> None:
        """Back to the initial models and limits, nothing received."""
        self.models = served_models()
        self.received.clear()
        self.no_verdict_code = "no_verdict"
        self.max_text_chars = 20_000

    def sent(self, method: str, path: str) -> list[Any]:
        """The JSON bodies received on ``method path``."""
        return [body for m, p, body in self.received if (m, p) == (method, path)]

    # -- routes ----------------------------------------------------------------------------

    async def _record(self, request: Request) -> Any:
        raw = await request.body()
        body = await request.json() if raw else None
        self.received.append((request.method, request.url.path, body))
        return body

    def _served(self, name: str) -> dict[str, Any]:
        model = self.models[name]
        production = next((v for v in model["versions"] if "production" in v["aliases"]), None)
        return {
            "name": name,
            "version": production["version"] if production else None,
            "ready": model["ready"],
            "reason": model["reason"],
            "spec": model["spec"],
            "trainable": model["spec"]["trainable"],
        }

    async def list_models(self, request: Request) -> JSONResponse:
        await self._record(request)
        return JSONResponse(
            {"default": DEFAULT, "models": [self._served(name) for name in self.models]}
        )

    def _model(self, request: Request) -> tuple[str, dict[str, Any] | None]:
        name = request.path_params["name"]
        return name, self.models.get(name)

    async def model_detail(self, request: Request) -> JSONResponse:
        await self._record(request)
        name, model = self._model(request)
        if model is None:
            return _error(404, "model_not_found", f"no model {name!r} is served")
        versions = [{"name": name, **v} for v in model["versions"]]
        return JSONResponse(
            {
                "name": name,
                "versions": versions,
                "spec": model["spec"],
                "trainable": model["spec"]["trainable"],
            }
        )

    async def predict(self, request: Request) -> JSONResponse:
        body = await self._record(request)
        name, model = self._model(request)
        if model is None:
            return _error(404, "model_not_found", f"no model {name!r} is served")
        spec = model["spec"]
        classes = spec["output"]["classes"]
        if spec["input"]["kind"] == "text":
            items = body.get("texts") or []
            if (too_long := text_too_long(items, self.max_text_chars)) is not None:
                return _error(413, "text_too_long", too_long)
            indices = [1 if "match" in text.lower() else 0 for text in items]
        elif "images" in body:
            if not spec["preprocessing"].startswith("digits-8x8"):
                return _error(422, "invalid_input", f"{name} takes no images")
            indices = [7 for _ in body["images"]]
        else:
            width = spec["input"]["shape"][1]
            low, high = spec["input"]["range"]
            indices = []
            for row_number, row in enumerate(body.get("instances") or []):
                if len(row) != width:
                    return _error(
                        422,
                        "invalid_input",
                        f"instance {row_number} has {len(row)} values; {name} takes {width}",
                    )
                for column, value in enumerate(row):
                    if not low <= value <= high:
                        return _error(
                            422,
                            "invalid_input",
                            f"instance {row_number} value {column} ({value:g}) is outside "
                            f"{low:g}..{high:g}",
                        )
                indices.append(int(sum(row)) % len(classes))
        if not indices:
            return _error(422, "invalid_input", "no instance to predict")
        predictions = []
        for number, index in enumerate(indices):
            rest = 0.2 / (len(classes) - 1)
            probabilities = [0.8 if i == index else rest for i in range(len(classes))]
            prediction_id = f"{name}-p{len(self.predictions) + number}"
            predictions.append(
                {
                    "id": prediction_id,
                    "label": classes[index],
                    "class_index": index,
                    "confidence": 0.8,
                    "probabilities": probabilities,
                }
            )
        for prediction in predictions:
            self.predictions[prediction["id"]] = name
        version = self._served(name)["version"]
        return JSONResponse(
            {
                "request_id": "req-1",
                "model": {"name": name, "version": version},
                "predictions": predictions,
            }
        )

    def _refused(self, request: Request) -> JSONResponse | None:
        key = request.headers.get("x-api-key")
        if not key:
            return _error(401, "unauthorized", "an admin key is required")
        if key != ADMIN_KEY:
            return _error(403, "forbidden", "the admin key is not valid")
        return None

    async def promote(self, request: Request) -> JSONResponse:
        body = await self._record(request)
        name, model = self._model(request)
        if (refused := self._refused(request)) is not None:
            return refused
        if model is None:
            return _error(404, "model_not_found", f"no model {name!r} is served")
        previous = self._served(name)["version"]
        for version in model["versions"]:
            aliases = [a for a in version["aliases"] if a != "production"]
            version["aliases"] = aliases + (
                ["production"] if version["version"] == body["version"] else []
            )
        return JSONResponse(
            {"name": name, "version": body["version"], "previous_version": previous}
        )

    async def retrain(self, request: Request) -> JSONResponse:
        await self._record(request)
        name, model = self._model(request)
        if (refused := self._refused(request)) is not None:
            return refused
        if model is None:
            return _error(404, "model_not_found", f"no model {name!r} is served")
        if not model["spec"]["trainable"]:
            return _error(409, "not_trainable", f"{name} is not trainable (imported model)")
        return JSONResponse({"job_id": f"job-{name}"}, status_code=202)

    async def job(self, request: Request) -> JSONResponse:
        job_id = request.path_params["job_id"]
        result = {
            "run_id": "r",
            "version": "3",
            "promoted": True,
            "production_version": "2",
            "metrics": {"test_accuracy": 0.95},
            "decision": "better",
        }
        return JSONResponse({"job_id": job_id, "state": "SUCCESS", "result": result})

    async def drift(self, request: Request) -> JSONResponse:
        await self._record(request)
        name, model = self._model(request)
        if model is None:
            return _error(404, "model_not_found", f"no model {name!r} is served")
        if model["drift"] is None:
            return _error(
                404,
                self.no_verdict_code,
                "no drift check has finished yet (window holds 12 rows, a check needs 200)",
            )
        return JSONResponse({"model": name, **model["drift"]})

    async def drift_check(self, request: Request) -> JSONResponse:
        await self._record(request)
        if (refused := self._refused(request)) is not None:
            return refused
        name, model = self._model(request)
        if model is None:
            return _error(404, "model_not_found", f"no model {name!r} is served")
        return _error(409, "window_too_small", "the window holds 12 rows; a check needs 200")

    async def feedback(self, request: Request) -> JSONResponse:
        body = await self._record(request)
        name = self.predictions.get(body["id"])
        if name is None:
            return _error(404, "prediction_not_found", f"no prediction {body['id']!r}")
        classes = self.models[name]["spec"]["output"]["classes"]
        label = body["label"]
        index = classes.index(label) if label in classes else label
        if not isinstance(index, int) or not 0 <= index < len(classes):
            return _error(422, "invalid_label", f"{label!r} is not a class of {name}")
        return JSONResponse({"id": body["id"], "label": index, "model": name})

    async def drift_report(self, request: Request) -> JSONResponse | HTMLResponse:
        await self._record(request)
        name, model = self._model(request)
        if model is None or model["drift"] is None:
            return _error(404, "no_verdict", f"no drift check of {name} has finished yet")
        return HTMLResponse(f"<html><body>Evidently report of {name}</body></html>")

    def app(self) -> Starlette:
        """The Starlette app answering the contract."""
        return Starlette(
            routes=[
                Route("/v1/models", self.list_models),
                Route("/v1/models/{name}", self.model_detail),
                Route("/v1/models/{name}/predict", self.predict, methods=["POST"]),
                Route("/v1/models/{name}/promote", self.promote, methods=["POST"]),
                Route("/v1/models/{name}/retrain", self.retrain, methods=["POST"]),
                Route("/v1/models/{name}/drift", self.drift),
                Route("/v1/models/{name}/drift/check", self.drift_check, methods=["POST"]),
                Route("/v1/feedback", self.feedback, methods=["POST"]),
                Route("/v1/jobs/{job_id}", self.job),
                Route("/v1/models/{name}/drift/report", self.drift_report),
            ]
        )


class _Loop:
    """An event loop in a daemon thread, serving the stand-in."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def contract_server() -> Iterator[ContractGateway]:
    """The stand-in gateway, served on a free loopback port for the module."""
    gateway = ContractGateway()
    runner = _Loop()
    stack = contextlib.AsyncExitStack()
    port = free_port()
    gateway.url = runner.run(stack.enter_async_context(serve_asgi(gateway.app(), port)))
    yield gateway
    runner.run(stack.aclose())
    runner.close()


@pytest.fixture
def contract(contract_server: ContractGateway, monkeypatch: pytest.MonkeyPatch) -> ContractGateway:
    """The stand-in, reset, with the frontend configured for it (admin key included)."""
    contract_server.reset()
    monkeypatch.setenv("FRONTEND_GATEWAY_URL", contract_server.url)
    monkeypatch.setenv("FRONTEND_ADMIN_API_KEY", ADMIN_KEY)
    return contract_server
