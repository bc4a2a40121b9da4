"""ONNX export of a trained network (raw features in, probabilities out) and the parity check."""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from numpy.typing import NDArray
from torch import nn

from mlops_common.features import N_FEATURES
from mlops_common.registry import ONNX_INPUT_NAME, ONNX_OUTPUT_NAME
from mlops_trainer.models import ProbabilityModel
from mlops_trainer.train import predict_proba

log = logging.getLogger(__name__)


class ParityError(RuntimeError):
    """The ONNX model does not answer like the PyTorch model it came from."""


@dataclass(frozen=True)
class Parity:
    """How closely the ONNX model follows PyTorch on a data set."""

    samples: int
    argmax_mismatches: int
    max_abs_diff: float
    atol: float

    @property
    def ok(self) -> bool:
        """Same argmax everywhere and every probability within ``atol``."""
        return self.argmax_mismatches == 0 and self.max_abs_diff <= self.atol

    def as_dict(self) -> dict[str, float | int | bool]:
        """Plain values for logs, model cards and job results."""
        return {**asdict(self), "ok": self.ok}


def torch_to_onnx(
    module: nn.Module,
    example: torch.Tensor,
    *,
    input_name: str,
    output_names: list[str],
    dynamic_axes: dict[int, torch.export.Dim],
    opset: int,
) -> onnx.ModelProto:
    """``module`` exported by torch.onnx's dynamo exporter (one input, optimised, no external
    data), with ``dynamic_axes`` of its input symbolic."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            input_names=[input_name],
            output_names=output_names,
            dynamic_shapes={input_name: dynamic_axes},
            opset_version=opset,
            external_data=False,
            optimize=True,
            verify=False,
            verbose=False,
        )
    if program is None:  # pragma: no cover - dynamo=True always returns a program
        raise RuntimeError("torch.onnx.export returned nothing")
    return program.model_proto


def export_onnx(network: nn.Module, path: Path, *, opset: int = 18) -> onnx.ModelProto:
    """Export ``network`` to ``path``: input ``features`` float32 [N, 64], output ``probabilities``.

    The batch axis is dynamic; the graph is checked with ``onnx.checker`` before it is returned.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    model = torch_to_onnx(
        ProbabilityModel(network).eval(),
        torch.zeros(2, N_FEATURES, dtype=torch.float32),
        input_name=ONNX_INPUT_NAME,
        output_names=[ONNX_OUTPUT_NAME],
        dynamic_axes={0: torch.export.Dim("batch", min=1)},
        opset=opset,
    )
    model.doc_string = (
        "digits classifier: features float32[N,64] on 0..16 -> probabilities float32[N,10]"
    )
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(path))
    log.info("exported ONNX model", extra={"path": str(path), "bytes": path.stat().st_size})
    return model


def onnx_session(path: Path | bytes, threads: int = 1) -> ort.InferenceSession:
    """An onnxruntime CPU session for a model file or its bytes."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    source = str(path) if isinstance(path, Path) else path
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def onnx_inputs(session: ort.InferenceSession, data: NDArray[Any]) -> dict[str, NDArray[Any]]:
    """The feed of a one-input session: texts as they are, numbers as float32."""
    name = session.get_inputs()[0].name
    if data.dtype == np.object_:
        return {name: data}
    return {name: np.ascontiguousarray(data, np.float32)}


def onnx_proba(
    session: ort.InferenceSession, features: NDArray[Any], batch_size: int = 256
) -> NDArray[np.float32]:
    """Probabilities ``[N, classes]`` from an onnxruntime session (features or texts)."""
    parts = [
        session.run([ONNX_OUTPUT_NAME], onnx_inputs(session, features[i : i + batch_size]))[0]
        for i in range(0, len(features), batch_size)
    ]
    return np.asarray(np.concatenate(parts), dtype=np.float32)


def check_parity(
    network: nn.Module, onnx_path: Path, features: NDArray[Any], *, atol: float = 1e-4
) -> Parity:
    """Compare ONNX and PyTorch probabilities on ``features`` (e.g. the whole test set); for a
    text network ``features`` are texts: the ONNX model tokenizes them itself, PyTorch reads
    the ids of the training path."""
    expected = predict_proba(network, features).numpy()
    got = onnx_proba(onnx_session(onnx_path), features)
    if got.shape != expected.shape:
        raise ParityError(f"ONNX output has shape {got.shape}; expected {expected.shape}")
    parity = Parity(
        samples=len(features),
        argmax_mismatches=int((expected.argmax(1) != got.argmax(1)).sum()),
        max_abs_diff=float(np.abs(expected - got).max()),
        atol=atol,
    )
    log.info("ONNX parity", extra=parity.as_dict())
    return parity
