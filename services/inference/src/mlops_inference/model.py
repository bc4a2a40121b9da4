"""An ONNX model loaded into onnxruntime, with what the protocol needs to describe it.

:func:`load_model` is blocking (it may download from MLflow, see :mod:`mlops_inference.source`,
and builds a session): call it in a thread. It warms the session up before returning, so a
model it returns is ready to serve. A registry version's ``model-spec.json`` is loaded with it
(:attr:`OnnxModel.spec`) and must match the graph (:mod:`mlops_inference.spec_check`), so a
swap brings model and spec in together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from mlops_common.datatypes import DATATYPES
from mlops_common.model_spec import ModelSpec
from mlops_inference.errors import ModelLoadError
from mlops_inference.source import ModelSource
from mlops_inference.strings import OBJECT

log = logging.getLogger(__name__)

#: onnxruntime type string → Open Inference Protocol datatype.
ONNX_TYPES: Mapping[str, str] = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(uint8)": "UINT8",
    "tensor(bool)": "BOOL",
    "tensor(string)": "BYTES",
}
#: What a warm-up run feeds a string input (a zero would not be text).
WARM_UP_TEXT = "warm up"


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output of the graph: name, protocol datatype, numpy dtype and shape.

    ``shape`` holds -1 for a dynamic dimension (the batch dimension of our models). A ``BYTES``
    (``tensor(string)``) tensor's dtype is ``object``: one ``str`` per element.
    """

    name: str
    datatype: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]


def _spec(arg: Any) -> TensorSpec:
    if arg.type not in ONNX_TYPES:
        raise ModelLoadError(f"tensor {arg.name!r} has unsupported type {arg.type}")
    datatype = ONNX_TYPES[arg.type]
    shape = tuple(dim if isinstance(dim, int) and dim >= 0 else -1 for dim in arg.shape)
    entry = DATATYPES.get(datatype)
    return TensorSpec(arg.name, datatype, entry.dtype if entry else OBJECT, shape)


def _warm_up_input(spec: TensorSpec, rows: int) -> np.ndarray:
    shape = tuple(rows if d < 0 else d for d in spec.shape)
    if spec.dtype.hasobject:
        return np.full(shape, WARM_UP_TEXT, dtype=OBJECT)
    return np.zeros(shape, spec.dtype)


class OnnxModel:
    """A warmed-up onnxruntime session plus its name, version and tensor specs."""

    def __init__(self, session: ort.InferenceSession, name: str, version: str, source: str):
        self.session = session
        self.name = name
        self.version = version
        self.source = source
        self.inputs = tuple(_spec(arg) for arg in session.get_inputs())
        self.outputs = tuple(_spec(arg) for arg in session.get_outputs())
        self.output_names = [spec.name for spec in self.outputs]
        #: The version's ``model-spec.json`` (``None`` for a file, or a run without one).
        self.spec: ModelSpec | None = None
        #: Seconds one batch of the warm-up's largest size takes (set by :meth:`warm_up`).
        self.batch_seconds = float("inf")
        #: Seconds one row takes alone, and each further row of a batch (set by :meth:`warm_up`).
        self.row_seconds = (float("inf"), float("inf"))

    def predict(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the graph on ``inputs`` (blocking; releases the GIL while onnxruntime works)."""
        return self.predict_timed(inputs)[0]

    def predict_timed(
        self, inputs: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], float]:
        """:meth:`predict`, plus the seconds ``session.run`` alone took (the batch-time metric)."""
        feed = dict(inputs)
        started = time.perf_counter()
        results = self.session.run(self.output_names, feed)
        seconds = time.perf_counter() - started
        return dict(zip(self.output_names, results, strict=True)), seconds

    def warm_up(self, rows: int = 8) -> None:
        """Run zero-filled batches of 1 and ``rows`` rows so the first request pays nothing.

        Also times the ``rows``-row batch (best of three) into :attr:`batch_seconds`, and one
        row (best of two) for :meth:`estimate_seconds`.
        """
        single = float("inf")
        for n in (1, 1, rows, rows, rows):
            feed = {spec.name: _warm_up_input(spec, n) for spec in self.inputs}
            started = time.perf_counter()
            try:
                self.predict(feed)
            except Exception as exc:
                raise ModelLoadError(f"warm-up of {self.source} failed: {exc}") from exc
            seconds = time.perf_counter() - started
            if n == rows:
                self.batch_seconds = min(self.batch_seconds, seconds)
            if n == 1:
                single = min(single, seconds)
        further = (self.batch_seconds - single) / (rows - 1) if rows > 1 else single
        self.row_seconds = (single, max(further, 0.0))

    def estimate_seconds(self, rows: int) -> float:
        """How long a batch of ``rows`` rows should take (from the warm-up's timings)."""
        single, further = self.row_seconds
        return single + (rows - 1) * further


def session_options(intra_op_threads: int) -> ort.SessionOptions:
    """Session options for serving: all graph optimisations, sized thread pool, no spinning."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    # Spinning threads burn the CPUs the gRPC loop needs between batches.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def load_session(
    path: Path, name: str, version: str, threads: int, warmup_rows: int = 8
) -> OnnxModel:
    """Build and warm up a session for the ONNX file at ``path``."""
    try:
        session = ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise ModelLoadError(f"onnxruntime refused {path}: {exc}") from exc
    model = OnnxModel(session, name=name, version=version, source=str(path))
    model.warm_up(warmup_rows)
    return model


def load_model(
    source: ModelSource,
    name: str,
    *,
    threads: int,
    version: str | None = None,
    warmup_rows: int = 8,
) -> OnnxModel:
    """Load ``version`` of ``source`` (default: its current one), warmed up; blocking.

    Raises :class:`ModelLoadError` for anything that stops the model from serving.
    """
    from mlops_inference.spec_check import check_spec

    try:
        version = version or source.current_version()
        path = source.fetch(version)
        spec = source.fetch_spec(version)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"could not fetch model {source.uri}: {exc}") from exc
    model = load_session(path, name, version, threads, warmup_rows)
    if spec is not None:
        check_spec(spec, model.inputs, model.outputs, f"{source.uri} version {version}")
        model.spec = spec
    log.info("model loaded", extra={"model_uri": source.uri, "version": version, "path": str(path)})
    return model
