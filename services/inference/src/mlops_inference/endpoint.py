"""One served model name: the model behind it, its batcher, and why it is not ready.

A :class:`ModelEndpoint` validates requests against its model, runs them (through its own
:class:`~mlops_inference.batcher.Batcher` or on the shared worker threads) and swaps in a new
model atomically: a request or batch that already took the old model finishes on it. It also
keeps the last load error, so readiness can say why the model is not served.

When shadow evaluation has a candidate for this model (:mod:`mlops_inference.candidate` sets
:attr:`ModelEndpoint.shadow`), each answer is offered to it after it is computed: one attribute
check when there is none.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from mlops_common.segments import Segments, SegmentsError, decode_segments
from mlops_inference.batcher import Arrays, Batcher
from mlops_inference.errors import (
    InferenceError,
    InvalidInputError,
    ModelNotFoundError,
    ModelNotReadyError,
    ShuttingDownError,
)
from mlops_inference.messages import InferRequest, InferResponse, InputTensor, shape_text
from mlops_inference.metrics import InferenceMetrics
from mlops_inference.model import OnnxModel, TensorSpec
from mlops_inference.outcomes import OutcomeCounts
from mlops_inference.settings import InferenceSettings

if TYPE_CHECKING:
    from mlops_inference.shadow import Shadow

log = logging.getLogger(__name__)


class Ran(NamedTuple):
    """What made a batch: the model version and its ``session.run`` time in milliseconds."""

    version: str
    ms: float


class ModelEndpoint:
    """Serves one named model; the model behind the name can be swapped at any time."""

    def __init__(
        self,
        name: str,
        settings: InferenceSettings,
        metrics: InferenceMetrics,
        workers: ThreadPoolExecutor | None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.metrics = metrics
        #: Why the last load failed (``None`` once a version serves); shown while not ready.
        self.error: str | None = None
        self._model: OnnxModel | None = None
        self._closed = False
        self._workers = workers
        self._batch_size = metrics.batch_size.labels(model=name)
        self._batch_duration = metrics.batch_duration.labels(model=name)
        self._ready_gauge = metrics.model_ready.labels(model=name)
        self._ready_gauge.set(0)
        #: Shadow evaluation of a staged candidate, while one is loaded and shadowed.
        self.shadow: Shadow | None = None
        #: Requests answered and failed per version (drift's probation reads them).
        self.outcomes = OutcomeCounts()
        self._batcher: Batcher[Ran] | None = None
        if settings.batching:
            self._batcher = Batcher(
                self._run_current,
                max_batch_size=settings.max_batch_size,
                max_wait_s=settings.max_batch_wait_ms / 1000.0,
                max_queue_size=settings.max_queue_size,
                inline=self._run_inline,
            )

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the batching loop (call on the serving event loop)."""
        if self._batcher is not None:
            self._batcher.start()

    async def stop(self) -> None:
        """Finish running work and refuse more."""
        self._closed = True
        self._ready_gauge.set(0)
        if self._batcher is not None:
            await self._batcher.stop()

    @property
    def depth(self) -> int:
        """Requests waiting for a batch of this model."""
        return self._batcher.depth if self._batcher is not None else 0

    @property
    def model(self) -> OnnxModel | None:
        """The model served now (``None`` before the first load)."""
        return self._model

    @property
    def ready(self) -> bool:
        """True while a model is loaded and the endpoint takes work."""
        return self._model is not None and not self._closed

    def swap(self, model: OnnxModel) -> OnnxModel | None:
        """Serve ``model`` from now on (one reference assignment) and return the old one."""
        old, self._model = self._model, model
        self.error = None
        self.metrics.set_served(self.name, model.version, old.version if old else None)
        self._ready_gauge.set(0 if self._closed else 1)
        if old is not None:
            self.metrics.swaps.inc()
            log.info(
                "model swapped",
                extra={"model": self.name, "old_version": old.version, "version": model.version},
            )
        return old

    def fail(self, reason: str) -> None:
        """Remember why a load failed; a served model (if any) keeps serving."""
        self.error = reason

    def not_ready_reason(self) -> str:
        """Why this model does not serve (for logs and error messages)."""
        if self._closed:
            return "the server is shutting down"
        if self.error is not None:
            return f"model {self.name!r} is not loaded: {self.error}"
        return f"model {self.name!r} is not loaded yet; retry shortly"

    # -- metadata ------------------------------------------------------------------------
    def require(self, version: str = "") -> OnnxModel:
        """The served model (at ``version``, if given); NOT_FOUND / UNAVAILABLE otherwise."""
        model = self._model
        if model is None:
            raise ModelNotReadyError(self.not_ready_reason())
        if version and version != model.version:
            raise ModelNotFoundError(
                f"model {self.name!r} version {version!r} is not served; the served version is "
                f"{model.version!r} (leave the version empty for the served one)"
            )
        return model

    # -- inference ----------------------------------------------------------------------
    def _run_inline(self, rows: int) -> bool:
        """True when the served model runs ``rows`` rows fast enough for the event loop itself."""
        model = self._model
        limit = self.settings.inline_max_ms / 1000.0
        return model is not None and model.estimate_seconds(rows) <= limit

    def _predict(self, model: OnnxModel, inputs: Arrays) -> tuple[Arrays, Ran]:
        """Run ``model`` on one batch (blocking), observing its size and ``session.run`` time."""
        outputs, seconds = model.predict_timed(inputs)
        self._batch_duration.observe(seconds)
        self._batch_size.observe(len(next(iter(inputs.values()))))
        return outputs, Ran(model.version, seconds * 1000.0)

    def _run_current(self, inputs: Arrays) -> tuple[Arrays, Ran]:
        model = self._model  # taken once: a swap mid-batch does not affect this batch
        if model is None:
            raise ModelNotReadyError(self.not_ready_reason())
        return self._predict(model, inputs)

    async def infer(self, request: InferRequest) -> InferResponse:
        """Validate ``request`` against the served model, run it, return its outputs."""
        if self._closed:
            raise ShuttingDownError("the server is shutting down")
        model = self.require(request.model_version)
        inputs, rows = self._validate(model, request.inputs)
        wanted = self._wanted_outputs(model, request.outputs)
        segments = _segments(request, rows)
        try:
            if self._batcher is not None:
                outputs, ran = await self._batcher.submit(inputs, rows)
            elif self._run_inline(rows):
                outputs, ran = self._predict(model, inputs)
            else:
                assert self._workers is not None  # nosec B101: no batcher and not inline means a worker pool; narrows the type for mypy
                loop = asyncio.get_running_loop()
                outputs, ran = await loop.run_in_executor(
                    self._workers, self._predict, model, inputs
                )
        except (InferenceError, asyncio.CancelledError):
            raise  # refused (overload, shutdown) or abandoned by the caller: not the model's fault
        except Exception:
            self.outcomes.add(model.version, failed=True, count=len(segments))  # the run raised
            raise
        self.outcomes.add(ran.version, failed=False, count=len(segments))
        shadow = self.shadow
        if shadow is not None:  # queues the candidate's run for later; never waits for it
            if len(segments) == 1:
                shadow.offer(request.id, inputs, outputs, ran)
            else:  # a merged call: each request it holds is shadowed as itself
                start = 0
                for segment_id, n in segments:
                    end = start + n
                    own_in = {name: array[start:end] for name, array in inputs.items()}
                    own_out = {name: array[start:end] for name, array in outputs.items()}
                    shadow.offer(segment_id, own_in, own_out, ran)
                    start = end
        return InferResponse(
            model_name=self.name,
            model_version=ran.version,
            id=request.id,
            outputs=[(spec, outputs[spec.name]) for spec in wanted],
        )

    def _validate(self, model: OnnxModel, tensors: list[InputTensor]) -> tuple[Arrays, int]:
        expected = {spec.name: spec for spec in model.inputs}
        given = [t.name for t in tensors]
        if sorted(given) != sorted(expected):
            raise InvalidInputError(
                f"inputs {given} do not match the model's inputs {sorted(expected)}"
            )
        arrays: Arrays = {}
        rows: int | None = None
        for tensor in tensors:
            spec = expected[tensor.name]
            arrays[tensor.name] = self._check_tensor(spec, tensor)
            if rows is not None and tensor.shape[0] != rows:
                raise InvalidInputError("all inputs must have the same number of rows")
            rows = tensor.shape[0]
        assert rows is not None  # nosec B101: the request has at least one input tensor; narrows the type for mypy
        return arrays, rows

    def _check_tensor(self, spec: TensorSpec, tensor: InputTensor) -> np.ndarray:
        name, shape = tensor.name, tensor.shape
        if tensor.datatype != spec.datatype:
            raise InvalidInputError(
                f"input {name!r} has datatype {tensor.datatype}; the model takes {spec.datatype}"
            )
        wrong_rank = len(shape) != len(spec.shape)
        if wrong_rank or any(d >= 0 and d != s for d, s in zip(spec.shape, shape, strict=False)):
            raise InvalidInputError(
                f"input {name!r} has shape {shape_text(shape)}; the model takes "
                f"{shape_text(spec.shape)} (-1 = any size)"
            )
        if any(d < 0 for d in shape):
            raise InvalidInputError(f"input {name!r} has a negative dimension {shape_text(shape)}")
        if shape[0] == 0:
            raise InvalidInputError(f"input {name!r} is an empty batch (0 rows)")
        if shape[0] > self.settings.max_request_rows:
            raise InvalidInputError(
                f"input {name!r} has {shape[0]} rows; the limit is "
                f"{self.settings.max_request_rows} per request"
            )
        count = math.prod(shape)
        if tensor.data.size != count:
            raise InvalidInputError(_count_message(spec, tensor, count))
        return tensor.data.astype(spec.dtype, copy=False).reshape(shape)

    @staticmethod
    def _wanted_outputs(model: OnnxModel, names: Sequence[str]) -> list[TensorSpec]:
        if not names:
            return list(model.outputs)
        known = {spec.name: spec for spec in model.outputs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidInputError(
                f"unknown output(s) {unknown}; the model's outputs are {sorted(known)}"
            )
        return [known[n] for n in names]


def _segments(request: InferRequest, rows: int) -> Segments:
    """The requests a call holds: those its segment parameters name, else itself."""
    if not request.segments:
        return ((request.id, rows),)
    try:
        return decode_segments(request.segments, rows)
    except SegmentsError as exc:
        raise InvalidInputError(f"bad segment parameters: {exc}") from None


def _count_message(spec: TensorSpec, tensor: InputTensor, count: int) -> str:
    """Why ``tensor`` does not fill its shape (``count`` values)."""
    shape = shape_text(tensor.shape)
    if spec.dtype.hasobject:
        return (
            f"input {tensor.name!r} holds {tensor.data.size} strings; shape {shape} "
            f"{spec.datatype} needs {count}"
        )
    return (
        f"input {tensor.name!r} holds {tensor.data.size} values ({tensor.data.nbytes} bytes); "
        f"shape {shape} {spec.datatype} needs {count} ({count * spec.dtype.itemsize} bytes)"
    )
