"""The models inference serves, each with the spec of its served version, kept fresh off the
request path.

A background task asks inference every ``refresh_s`` for its repository index (one small call)
and fetches ``ModelMetadata`` only for a model whose served version changed: the spec travels
there as the parameter ``model_spec`` (see ``mlops_inference.servicer``). A request reads the
catalog (a dict lookup) and never waits for a registry or an extra call; when inference answers
with a version the catalog does not know yet, the predictor asks for an early refresh.

A served graph without a spec (a plain ``.onnx`` file, a first-wave version) is read from its
tensors: the digits layout gets the digits spec (so its 0..16 range is still checked), any other
a ``features`` spec with classes named ``0..k-1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from mlops_common.digits_spec import digits_spec, is_digits_graph
from mlops_common.model_spec import ModelSpec, ModelSpecError, parse_spec
from mlops_common.proto import grpc_service_pb2 as pb
from mlops_gateway.errors import (
    DependencyUnavailableError,
    GatewayError,
    ModelNotReadyError,
    ModelNotServedError,
)
from mlops_gateway.inference import InferenceClient

log = logging.getLogger(__name__)

#: ``ModelMetadataResponse.parameters`` key of the served version's spec.
SPEC_PARAMETER = "model_spec"
_READY = "READY"


@dataclass(frozen=True, slots=True)
class ServedModel:
    """One model inference serves: its version, state and the spec of that version."""

    name: str
    version: str
    ready: bool
    reason: str | None
    spec: ModelSpec | None

    @property
    def classes(self) -> list[str]:
        """Class names in output order (empty before a spec is known)."""
        return self.spec.classes if self.spec is not None else []


def spec_from_metadata(meta: pb.ModelMetadataResponse) -> ModelSpec:
    """The served version's spec, or one read from its tensors when it carries none.

    Raises:
        ModelSpecError: the carried spec is malformed, or the graph is not a one-input,
            one-output classifier whose spec can be read from its tensors.
    """
    carried = meta.parameters.get(SPEC_PARAMETER)
    if carried is not None and carried.string_param:
        try:
            return parse_spec(json.loads(carried.string_param))
        except json.JSONDecodeError as exc:
            raise ModelSpecError(f"the served spec is not JSON: {exc}") from exc
    if len(meta.inputs) != 1 or len(meta.outputs) != 1:
        raise ModelSpecError(
            f"model {meta.name!r} has no spec and {len(meta.inputs)} inputs, "
            f"{len(meta.outputs)} outputs: register it with a spec (mlops-train import)"
        )
    (tensor,), (output,) = meta.inputs, meta.outputs
    in_shape, out_shape = list(tensor.shape), list(output.shape)
    if is_digits_graph(tensor.name, in_shape, output.name, out_shape):
        return digits_spec(meta.name)
    if len(out_shape) != 2 or out_shape[1] < 2:
        raise ModelSpecError(
            f"model {meta.name!r} has no spec and its output {output.name!r} has shape "
            f"{out_shape}: register it with a spec naming its classes (mlops-train import)"
        )
    return parse_spec(
        {
            "name": meta.name,
            "task": "unregistered",
            "input": {
                "kind": "features",
                "tensor": tensor.name,
                "datatype": tensor.datatype,
                "shape": [-1, *in_shape[1:]],
            },
            "output": {"tensor": output.name, "classes": [str(i) for i in range(out_shape[1])]},
            "monitored": [],
            "preprocessing": "none@1",
            "trainable": False,
        }
    )


class ModelCatalog:
    """Served models by name, refreshed in the background from inference."""

    def __init__(self, inference: InferenceClient, default: str, *, refresh_s: float = 2.0) -> None:
        self._inference = inference
        self.default = default
        self.refresh_s = refresh_s
        self._models: dict[str, ServedModel] = {}
        self._known = False  # one index has been read
        self._wake = asyncio.Event()
        self._first_read = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    # -- reading (request path: no I/O) ---------------------------------------------------
    @property
    def models(self) -> list[ServedModel]:
        """Every served model, in the order inference lists them."""
        return list(self._models.values())

    def get(self, name: str) -> ServedModel:
        """The served model ``name`` with a known spec.

        Raises:
            ModelNotServedError: inference does not serve ``name`` (404, naming those it does).
            ModelNotReadyError: it is served but not loaded, or its spec is not known yet (503).
        """
        model = self._models.get(name)
        if model is None:
            if not self._known:
                raise DependencyUnavailableError(
                    "inference",
                    "inference service unavailable: the gateway has not reached it yet",
                )
            served = ", ".join(repr(m) for m in self._models) or "none"
            raise ModelNotServedError(f"model {name!r} is not served; served models: {served}")
        if model.spec is None or not model.ready:
            raise ModelNotReadyError(
                model.reason or f"model {name!r} is not ready yet; retry shortly"
            )
        return model

    async def resolve(self, name: str) -> ServedModel:
        """:meth:`get`, after reading the catalog first when it was never read (the first
        requests after a start wait for that one read instead of failing)."""
        if not self._known:
            async with self._first_read:
                if not self._known:
                    with contextlib.suppress(GatewayError):
                        await self.refresh()
        return self.get(name)

    def classes_of(self, name: str) -> Sequence[str] | None:
        """Class names of the served model ``name``; ``None`` when it is not known."""
        model = self._models.get(name)
        return model.classes if model is not None and model.spec is not None else None

    def stale(self, name: str, version: str) -> None:
        """Inference answered ``name`` at ``version``: refresh soon when that is news."""
        model = self._models.get(name)
        if model is None or model.version != version:
            self._wake.set()

    # -- refreshing (background) ---------------------------------------------------------
    async def refresh(self) -> None:
        """Read the repository index; fetch the metadata of every model whose version changed.

        Raises:
            GatewayError: inference did not answer the index (the catalog stays as it was).
        """
        index = await self._inference.repository_index()
        models: dict[str, ServedModel] = {}
        for entry in index.models:
            ready = entry.state == _READY
            known = self._models.get(entry.name)
            if known is not None and known.version == entry.version and known.spec is not None:
                models[entry.name] = ServedModel(
                    entry.name, entry.version, ready, entry.reason or None, known.spec
                )
                continue
            models[entry.name] = await self._load(entry.name, entry.version, ready, entry.reason)
        self._models = models
        self._known = True

    async def _load(self, name: str, version: str, ready: bool, reason: str) -> ServedModel:
        if not ready and not version:
            return ServedModel(name, version, False, reason or None, None)
        try:
            meta = await self._inference.model_metadata(name)
            spec = spec_from_metadata(meta)
        except (GatewayError, ModelSpecError) as exc:
            message = getattr(exc, "message", str(exc))
            log.warning("model spec not loaded", extra={"model": name, "error": message})
            return ServedModel(name, version, False, f"model {name!r}: {message}", None)
        served_version = meta.versions[0] if meta.versions else version
        if served_version != version:
            self._wake.set()  # swapped between the two calls: read again soon
        log.info("model spec loaded", extra={"model": name, "version": served_version})
        return ServedModel(name, served_version, ready, reason or None, spec)

    def start(self) -> None:
        """Start the background refresh."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="model-catalog")

    async def stop(self) -> None:
        """Stop the background refresh."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
                if self._failing:
                    log.info("model catalog refreshed again")
                    self._failing = False
            except GatewayError as exc:
                if not self._failing:
                    log.warning("model catalog not refreshed: %s", exc.message)
                    self._failing = True
            delay = self.refresh_s if self._known else 0.2  # fast until inference first answers
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._wake.clear()
