"""The gRPC client of the inference service (Open Inference Protocol, raw tensor contents).

One ``grpc.aio`` channel for the gateway's life. Every call has a deadline; a call answered
``UNAVAILABLE`` is retried by gRPC itself inside that deadline (a ``retryPolicy`` in the
channel's service config: exponential backoff with jitter); gRPC status codes are mapped to the
gateway's errors (503 down, 504 deadline, 400 rejected, 404 unknown model).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import numpy as np
from numpy.typing import NDArray

from mlops_common.model_spec import ModelSpec
from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.segments import Segments, encode_segments
from mlops_gateway.errors import (
    DeadlineExceededError,
    DependencyUnavailableError,
    GatewayError,
    InferenceFailedError,
    InferenceRejectedError,
    NotFoundError,
)
from mlops_gateway.texts import logged_values, text_request

T = TypeVar("T")

_CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    # After inference went away (a crash, a restart), try to reconnect at least every second:
    # gRPC's default backoff grows to 120 s, so answers could stay 503s long after it is back.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)
_SERVICE = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name


def service_config(retries: int, backoff_s: float, max_backoff_s: float) -> str:
    """The channel's service config: calls answered ``UNAVAILABLE`` retried ``retries`` times.

    gRPC waits a random time up to ``backoff_s`` before the first retry, doubling (at most
    ``max_backoff_s``) on each one; the call's deadline bounds them all.
    """
    config: dict[str, Any] = {"name": [{"service": _SERVICE}]}
    if retries > 0:
        config["retryPolicy"] = {
            "maxAttempts": retries + 1,
            "initialBackoff": f"{max(backoff_s, 1e-6):.6f}s",
            "maxBackoff": f"{max(max_backoff_s, backoff_s, 1e-6):.6f}s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        }
    return json.dumps({"methodConfig": [config]})


@dataclass(frozen=True, slots=True)
class Prediction:
    """The answer of one ``ModelInfer`` call: the class probabilities of each instance (and,
    for a text model, the values its traffic logs: see :func:`~mlops_gateway.texts.logged_values`).
    """

    model_name: str
    model_version: str
    probabilities: NDArray[np.float32]
    logged: NDArray[np.float32] | None = None


def map_rpc_error(exc: grpc.aio.AioRpcError, what: str) -> GatewayError:
    """The gateway error for a failed call to inference."""
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE:
        return DependencyUnavailableError("inference", f"inference service unavailable: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceededError(f"inference did not answer {what} within its deadline")
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(f"inference: {details}")
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE):
        return InferenceRejectedError(f"inference rejected the request: {details}")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return DependencyUnavailableError("inference", f"inference is overloaded: {details}")
    return InferenceFailedError(f"inference failed ({code.name}): {details}")


class InferenceClient:
    """Calls to the inference service over one channel."""

    def __init__(
        self,
        target: str,
        model_name: str,
        *,
        timeout_s: float = 2.0,
        retries: int = 2,
        backoff_s: float = 0.02,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> None:
        self.model_name = model_name
        self.timeout_s = timeout_s
        options = (
            *_CHANNEL_OPTIONS,
            ("grpc.service_config", service_config(retries, backoff_s, timeout_s)),
        )
        self._channel = grpc.aio.insecure_channel(
            target, options=options, interceptors=list(interceptors) or None
        )
        self._stub = pb_grpc.GRPCInferenceServiceStub(self._channel)

    async def close(self) -> None:
        """Close the channel (pending calls are cancelled)."""
        await self._channel.close()

    async def _call(
        self,
        method: Callable[..., Awaitable[T]],
        request: Any,
        what: str,
        metadata: tuple[tuple[str, str], ...] = (),
        timeout_s: float | None = None,
    ) -> T:
        timeout = self.timeout_s if timeout_s is None else timeout_s
        try:
            return await method(request, timeout=timeout, metadata=metadata)
        except grpc.aio.AioRpcError as exc:  # retries, if any, are over
            raise map_rpc_error(exc, what) from exc

    async def predict(
        self,
        name: str,
        spec: ModelSpec,
        inputs: NDArray[np.float32],
        request_id: str,
        *,
        infer_id: str = "",
        segments: Segments = (),
        timeout_s: float | None = None,
    ) -> Prediction:
        """Class probabilities of ``inputs`` (float32, ``[n, ...]``) from the model ``name``.

        ``infer_id``: the OIP request id (default ``request_id``); ``request_id`` travels as
        the ``x-request-id`` metadata. ``segments``: the merged requests whose rows ``inputs``
        holds (:mod:`mlops_common.segments`); ``timeout_s``: this call's deadline (default the
        client's).

        The input and output tensors are the ones ``spec`` names; the answer must hold one
        probability per class of the spec for each instance.
        """
        inputs = np.ascontiguousarray(inputs, dtype="<f4")
        request = pb.ModelInferRequest(
            model_name=name,
            id=infer_id or request_id,
            inputs=[
                pb.ModelInferRequest.InferInputTensor(
                    name=spec.input.tensor, datatype="FP32", shape=list(inputs.shape)
                )
            ],
            outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name=spec.output.tensor)],
            raw_input_contents=[inputs.tobytes()],
        )
        if segments:
            for key, value in encode_segments(segments).items():
                request.parameters[key].string_param = value
        response = await self.model_infer(request, request_id, timeout_s)
        return Prediction(
            model_name=response.model_name or name,
            model_version=response.model_version,
            probabilities=probabilities_of(
                response, spec.output.tensor, inputs.shape[0], len(spec.output.classes)
            ),
        )

    async def predict_texts(
        self,
        name: str,
        spec: ModelSpec,
        texts: Sequence[str],
        request_id: str,
        *,
        infer_id: str = "",
    ) -> Prediction:
        """Class probabilities of ``texts`` (one string per instance) from the text model
        ``name``, with the values of its spec's ``output:<tensor>:<i>`` columns."""
        request = text_request(name, spec, texts, infer_id or request_id)
        response = await self.model_infer(request, request_id)
        n = len(texts)
        return Prediction(
            model_name=response.model_name or name,
            model_version=response.model_version,
            probabilities=probabilities_of(
                response, spec.output.tensor, n, len(spec.output.classes)
            ),
            logged=logged_values(response, spec, n),
        )

    async def model_infer(
        self, request: pb.ModelInferRequest, request_id: str = "", timeout_s: float | None = None
    ) -> pb.ModelInferResponse:
        """Send any ``ModelInfer`` request (the OIP REST pass-through uses this)."""
        metadata = (("x-request-id", request_id),) if request_id else ()
        return await self._call(self._stub.ModelInfer, request, "ModelInfer", metadata, timeout_s)

    async def server_live(self) -> bool:
        """ServerLive."""
        response = await self._call(self._stub.ServerLive, pb.ServerLiveRequest(), "ServerLive")
        return bool(response.live)

    async def server_ready(self) -> bool:
        """ServerReady."""
        response = await self._call(self._stub.ServerReady, pb.ServerReadyRequest(), "ServerReady")
        return bool(response.ready)

    async def model_ready(self, name: str, version: str = "") -> bool:
        """ModelReady for ``name``."""
        request = pb.ModelReadyRequest(name=name, version=version)
        response = await self._call(self._stub.ModelReady, request, "ModelReady")
        return bool(response.ready)

    async def model_metadata(self, name: str, version: str = "") -> pb.ModelMetadataResponse:
        """ModelMetadata for ``name``."""
        request = pb.ModelMetadataRequest(name=name, version=version)
        return await self._call(self._stub.ModelMetadata, request, "ModelMetadata")

    async def repository_index(self) -> pb.RepositoryIndexResponse:
        """RepositoryIndex: every served model with its version and state."""
        request = pb.RepositoryIndexRequest()
        return await self._call(self._stub.RepositoryIndex, request, "RepositoryIndex")


def probabilities_of(
    response: pb.ModelInferResponse, output: str, n: int, classes: int
) -> NDArray[np.float32]:
    """The ``output`` tensor of ``response`` as float32 ``[n, classes]``."""
    for index, tensor in enumerate(response.outputs):
        if tensor.name != output:
            continue
        if index < len(response.raw_output_contents):
            array = np.frombuffer(response.raw_output_contents[index], dtype="<f4")
        else:
            array = np.asarray(tensor.contents.fp32_contents, dtype=np.float32)
        if array.size != n * classes:
            raise InferenceFailedError(
                f"inference answered {array.size} probabilities for {n} instances of "
                f"{classes} classes"
            )
        return array.reshape(n, classes)
    raise InferenceFailedError(f"inference answer has no {output!r} output")
