"""``inference.GRPCInferenceService`` over grpc.aio: a thin translator onto the data plane.

Every call is counted and timed (``inference_requests_total``, ``..._duration_seconds``, with
the served model's name as label ``model`` for the per-model calls) and domain errors are
mapped to their gRPC status in one place (:meth:`InferenceServicer._call`).
Of the model repository extension, ``RepositoryIndex`` lists the served models and their state;
loading and unloading answer UNIMPLEMENTED (models follow their registry alias).
``ModelMetadata`` carries the served version's model spec as the parameter ``model_spec`` (its
JSON text), so a client learns what the model takes and answers with the version it serves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_inference.codec import decode_request, encode_response
from mlops_inference.dataplane import DataPlane
from mlops_inference.errors import InferenceError
from mlops_inference.metrics import InferenceMetrics
from mlops_inference.model import TensorSpec

log = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")

PLATFORM = "onnxruntime_onnx"
#: ``ModelMetadataResponse.parameters`` key of the served version's spec (JSON text).
SPEC_PARAMETER = "model_spec"
NO_REPOSITORY = "the model repository API is not offered: models follow the registry alias"


def _tensor_metadata(spec: TensorSpec) -> Any:
    return pb.ModelMetadataResponse.TensorMetadata(
        name=spec.name, datatype=spec.datatype, shape=spec.shape
    )


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """Translates protocol messages to data-plane calls and back."""

    def __init__(self, dataplane: DataPlane, metrics: InferenceMetrics) -> None:
        self._plane = dataplane
        self._metrics = metrics

    async def _call(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        handler: Callable[[Req], Awaitable[Resp]],
        request: Req,
        model: str = "",
    ) -> Resp:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return await handler(request)
        except InferenceError as exc:
            code = exc.status
            await context.abort(code, str(exc))
        except Exception as exc:
            code = grpc.StatusCode.INTERNAL
            log.exception("%s failed", method)
            await context.abort(code, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            label = self._plane.metric_label(model) if model else ""
            self._metrics.requests.labels(method=method, code=code.name, model=label).inc()
            self._metrics.duration.labels(method=method, model=label).observe(
                time.perf_counter() - started
            )
        raise AssertionError("unreachable: context.abort raises")  # pragma: no cover

    async def ServerLive(self, request: pb.ServerLiveRequest, context: Any) -> Any:  # noqa: N802
        """Live while the process answers."""

        async def handle(_: Any) -> Any:
            return pb.ServerLiveResponse(live=True)

        return await self._call("ServerLive", context, handle, request)

    async def ServerReady(self, request: pb.ServerReadyRequest, context: Any) -> Any:  # noqa: N802
        """Ready once every served model is loaded and warmed up (as MLServer and KServe)."""

        async def handle(_: Any) -> Any:
            return pb.ServerReadyResponse(ready=self._plane.ready())

        return await self._call("ServerReady", context, handle, request)

    async def ModelReady(self, request: pb.ModelReadyRequest, context: Any) -> Any:  # noqa: N802
        """Whether the named model (and version, if given) is loaded."""

        async def handle(req: Any) -> Any:
            return pb.ModelReadyResponse(ready=self._plane.model_ready(req.name, req.version))

        return await self._call("ModelReady", context, handle, request, request.name)

    async def ServerMetadata(self, request: pb.ServerMetadataRequest, context: Any) -> Any:  # noqa: N802
        """Server name, version and extensions."""

        async def handle(_: Any) -> Any:
            name, version, extensions = self._plane.server_metadata()
            return pb.ServerMetadataResponse(name=name, version=version, extensions=extensions)

        return await self._call("ServerMetadata", context, handle, request)

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context: Any) -> Any:  # noqa: N802
        """The model's inputs and outputs as its ONNX graph declares them.

        A served model that is not loaded answers UNAVAILABLE with the reason (its load error).
        """

        async def handle(req: Any) -> Any:
            model = self._plane.model_metadata(req.name, req.version)
            parameters = {}
            if model.spec is not None:
                parameters[SPEC_PARAMETER] = pb.InferParameter(string_param=model.spec.to_json())
            return pb.ModelMetadataResponse(
                name=model.name,
                versions=[model.version],
                platform=PLATFORM,
                inputs=[_tensor_metadata(spec) for spec in model.inputs],
                outputs=[_tensor_metadata(spec) for spec in model.outputs],
                parameters=parameters,
            )

        return await self._call("ModelMetadata", context, handle, request, request.name)

    async def ModelInfer(self, request: pb.ModelInferRequest, context: Any) -> Any:  # noqa: N802
        """Run the model on the request's tensors; outputs come back as raw contents."""

        async def handle(req: Any) -> Any:
            return encode_response(await self._plane.infer(decode_request(req)))

        return await self._call("ModelInfer", context, handle, request, request.model_name)

    async def RepositoryIndex(self, request: pb.RepositoryIndexRequest, context: Any) -> Any:  # noqa: N802
        """Every served model with its version and state (``READY``/``UNAVAILABLE``, reason)."""

        async def handle(req: Any) -> Any:
            Entry = pb.RepositoryIndexResponse.ModelIndex  # noqa: N806
            return pb.RepositoryIndexResponse(
                models=[
                    Entry(name=name, version=version, state=state, reason=reason)
                    for name, version, state, reason in self._plane.index(req.ready)
                ]
            )

        return await self._call("RepositoryIndex", context, handle, request)

    async def RepositoryModelLoad(self, request: Any, context: Any) -> Any:  # noqa: N802
        """Not offered: models come from the registry alias (see the watcher)."""
        self._metrics.requests.labels(
            method="RepositoryModelLoad", code="UNIMPLEMENTED", model=""
        ).inc()
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, NO_REPOSITORY)

    async def RepositoryModelUnload(self, request: Any, context: Any) -> Any:  # noqa: N802
        """Not offered: the served model is unloaded only by swapping in a new one."""
        self._metrics.requests.labels(
            method="RepositoryModelUnload", code="UNIMPLEMENTED", model=""
        ).inc()
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, NO_REPOSITORY)
