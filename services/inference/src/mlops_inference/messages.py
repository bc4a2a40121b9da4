"""Transport-neutral inference requests and responses (the codec builds and reads them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mlops_inference.model import TensorSpec


@dataclass(slots=True)
class InputTensor:
    """One input tensor of a request, already decoded to a flat numpy array."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: np.ndarray


@dataclass(slots=True)
class InferRequest:
    """A transport-neutral inference request."""

    model_name: str
    inputs: list[InputTensor]
    model_version: str = ""
    id: str = ""
    outputs: Sequence[str] = ()
    #: The segment parameters of a merged call, as sent (see :mod:`mlops_common.segments`).
    segments: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class InferResponse:
    """A transport-neutral inference response: outputs in the requested order."""

    model_name: str
    model_version: str
    id: str
    outputs: list[tuple[TensorSpec, np.ndarray]] = field(default_factory=list)


def shape_text(shape: Sequence[int]) -> str:
    """``[2, 64]`` the way the messages print shapes."""
    return "[" + ", ".join(str(d) for d in shape) + "]"
