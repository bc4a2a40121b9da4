"""An ONNX model loaded into onnxruntime, with what the protocol needs to describe it.

:func:`load_model` is blocking (it may download from MLflow and builds a session): call it in a
thread. It warms the session up before returning, so a model it returns is ready to serve.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from mlops_common.datatypes import DATATYPES
from mlops_inference.errors import ModelLoadError

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
}

_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>[^/]+))$")


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output of the graph: name, protocol datatype, numpy dtype and shape.

    ``shape`` holds -1 for a dynamic dimension (the batch dimension of our models).
    """

    name: str
    datatype: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RegistryRef:
    """A parsed ``models:/name@alias`` or ``models:/name/version`` URI."""

    name: str
    alias: str | None
    version: str | None


def parse_registry_uri(uri: str) -> RegistryRef | None:
    """Parse a ``models:/`` URI; ``None`` for anything else (a file path)."""
    match = _REGISTRY_URI.match(uri)
    if match is None:
        return None
    return RegistryRef(match["name"], match["alias"], match["version"])


def _spec(arg: Any) -> TensorSpec:
    if arg.type not in ONNX_TYPES:
        raise ModelLoadError(f"tensor {arg.name!r} has unsupported type {arg.type}")
    datatype = ONNX_TYPES[arg.type]
    shape = tuple(dim if isinstance(dim, int) and dim >= 0 else -1 for dim in arg.shape)
    return TensorSpec(arg.name, datatype, DATATYPES[datatype].dtype, shape)


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
        #: Seconds one batch of the warm-up's largest size takes (set by :meth:`warm_up`).
        self.batch_seconds = float("inf")

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

        Also times the ``rows``-row batch (best of three) into :attr:`batch_seconds`.
        """
        for n in (1, rows, rows, rows):
            feed = {
                spec.name: np.zeros(tuple(n if d < 0 else d for d in spec.shape), spec.dtype)
                for spec in self.inputs
            }
            started = time.perf_counter()
            try:
                self.predict(feed)
            except Exception as exc:
                raise ModelLoadError(f"warm-up of {self.source} failed: {exc}") from exc
            if n == rows:
                self.batch_seconds = min(self.batch_seconds, time.perf_counter() - started)


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


def _onnx_file(folder: Path) -> Path:
    if not folder.exists():
        raise ModelLoadError(f"model path {folder} does not exist")
    if folder.is_file():
        return folder
    files = sorted(folder.rglob("*.onnx"))
    if not files:
        raise ModelLoadError(f"no .onnx file in {folder}")
    return files[0]


def resolve_version(ref: RegistryRef, tracking_uri: str) -> str:
    """The version a registry reference points at now (asks MLflow; blocking)."""
    if ref.version is not None:
        return ref.version
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return str(client.get_model_version_by_alias(ref.name, ref.alias or "").version)


def fetch_model_file(ref: RegistryRef, version: str, tracking_uri: str, dst: Path) -> Path:
    """Download version ``version`` of ``ref.name`` to ``dst`` and return its .onnx file."""
    import mlflow

    dst.mkdir(parents=True, exist_ok=True)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{ref.name}/{version}",
        dst_path=str(dst),
        tracking_uri=tracking_uri,
    )
    return _onnx_file(Path(local))


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
    uri: str,
    name: str,
    *,
    tracking_uri: str,
    cache_dir: Path,
    threads: int,
    version: str | None = None,
    warmup_rows: int = 8,
) -> OnnxModel:
    """Load the model at ``uri`` (a ``models:/`` URI or a file path), warmed up; blocking.

    ``version`` pins the registry version (the watcher passes the one it resolved); for a
    file the version is the first 12 hex digits of its SHA-256, so a changed file is a new
    version. Raises :class:`ModelLoadError` for anything that stops the model from serving.
    """
    ref = parse_registry_uri(uri)
    try:
        if ref is None:
            path = _onnx_file(Path(uri))
            version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        else:
            version = version or resolve_version(ref, tracking_uri)
            path = fetch_model_file(ref, version, tracking_uri, cache_dir / ref.name / version)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"could not fetch model {uri}: {exc}") from exc
    model = load_session(path, name, version, threads, warmup_rows)
    log.info("model loaded", extra={"model_uri": uri, "version": version, "path": str(path)})
    return model
