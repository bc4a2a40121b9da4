"""What an ONNX classifier takes and answers, read from its graph, and its check against a spec.

Also the MLflow signature a spec's model is logged with (:func:`mlflow_signature`).

Used by ``mlops-train import`` (an outside model: one float features input, one probabilities
output) and by the pipeline (the exported graph must match the spec registered with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import onnx
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from mlops_common.datatypes import DATATYPES
from mlops_common.model_spec import ModelSpec

#: ONNX element types a features input may have → the protocol's datatype.
FLOAT_DATATYPES: Final[dict[int, str]] = {
    onnx.TensorProto.FLOAT: "FP32",
    onnx.TensorProto.DOUBLE: "FP64",
    onnx.TensorProto.FLOAT16: "FP16",
}


class SignatureError(ValueError):
    """An ONNX graph this platform cannot serve as a features classifier (message says why)."""


@dataclass(frozen=True)
class Signature:
    """The graph's one input and one output: names, protocol datatype, shapes (-1 = any)."""

    input_tensor: str
    datatype: str
    input_shape: list[int]
    output_tensor: str
    output_shape: list[int]


def _shape(value: onnx.ValueInfoProto) -> list[int] | None:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return [dim.dim_value if dim.HasField("dim_value") else -1 for dim in tensor.shape.dim]


def _type_name(elem_type: int) -> str:
    return str(onnx.TensorProto.DataType.Name(elem_type))


def read_signature(model: onnx.ModelProto) -> Signature:
    """The input and output of a features classifier: exactly one float ``[batch, width]`` input
    and one output whose last dimension is fixed (the classes).

    Raises:
        SignatureError: anything else, naming what is wrong.
    """
    initializers = {init.name for init in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    outputs = list(model.graph.output)
    if len(inputs) != 1:
        names = ", ".join(repr(value.name) for value in inputs)
        raise SignatureError(
            f"the model has {len(inputs)} inputs ({names}); expected exactly one float "
            "features input [batch, width]"
        )
    if len(outputs) != 1:
        names = ", ".join(repr(value.name) for value in outputs)
        raise SignatureError(
            f"the model has {len(outputs)} outputs ({names}); expected exactly one "
            "probabilities output [batch, classes]"
        )
    (given,), (answer,) = inputs, outputs
    if not given.type.HasField("tensor_type"):
        raise SignatureError(f"input {given.name!r} is not a tensor")
    elem_type = given.type.tensor_type.elem_type
    if elem_type not in FLOAT_DATATYPES:
        raise SignatureError(
            f"input {given.name!r} is {_type_name(elem_type)}; expected a float input "
            "(FLOAT, DOUBLE or FLOAT16)"
        )
    input_shape = _shape(given)
    if input_shape is None or len(input_shape) != 2 or input_shape[1] < 1:
        raise SignatureError(
            f"input {given.name!r} has shape {input_shape}; expected [batch, width] "
            "with a fixed width"
        )
    output_shape = _shape(answer) if answer.type.HasField("tensor_type") else None
    if not output_shape or output_shape[-1] < 1:
        raise SignatureError(
            f"output {answer.name!r} has shape {output_shape}; expected [batch, classes] "
            "with a fixed number of classes"
        )
    return Signature(
        input_tensor=given.name,
        datatype=FLOAT_DATATYPES[elem_type],
        input_shape=[-1, input_shape[1]],
        output_tensor=answer.name,
        output_shape=output_shape,
    )


def _check_text_matches(spec: ModelSpec, model: onnx.ModelProto) -> None:
    """A text model: one string input named like the spec's; the probabilities output with one
    column per class; every output a monitored column reads."""
    initializers = {init.name for init in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    kinds = [(value.name, value.type.tensor_type.elem_type) for value in inputs]
    if kinds != [(spec.input.tensor, onnx.TensorProto.STRING)]:
        raise SignatureError(
            f"the spec's input is one string tensor {spec.input.tensor!r}; the model takes "
            f"{[(name, _type_name(kind)) for name, kind in kinds]}"
        )
    outputs = {value.name: _shape(value) for value in model.graph.output}
    shape = outputs.get(spec.output.tensor)
    if not shape or shape[-1] != len(spec.classes):
        raise SignatureError(
            f"the spec's output {spec.output.tensor!r} with {len(spec.classes)} classes is not "
            f"among the model's outputs {outputs}"
        )
    missing = [tensor for tensor in spec.value_outputs if tensor not in outputs]
    if missing:
        raise SignatureError(f"the model lacks the monitored output(s) {missing}")


def check_matches(spec: ModelSpec, model: onnx.ModelProto) -> None:
    """Raise SignatureError when ``spec`` does not describe ``model``'s tensors."""
    if spec.input.kind == "text":
        _check_text_matches(spec, model)
        return
    found = read_signature(model)
    expected = (spec.input.tensor, spec.input.datatype, spec.input.shape[1:])
    actual = (found.input_tensor, found.datatype, found.input_shape[1:])
    if expected != actual:
        raise SignatureError(f"the spec's input {expected} is not the model's {actual}")
    if (spec.output.tensor, len(spec.classes)) != (found.output_tensor, found.output_shape[-1]):
        raise SignatureError(
            f"the spec's output {spec.output.tensor!r} with {len(spec.classes)} classes is not "
            f"the model's {found.output_tensor!r} {found.output_shape}"
        )


def mlflow_signature(spec: ModelSpec) -> ModelSignature:
    """The MLflow signature of a classifier described by ``spec`` (logged with it)."""
    text = spec.input.kind == "text"
    dtype = np.dtype(object) if text else DATATYPES[spec.input.datatype].dtype
    return ModelSignature(
        inputs=Schema([TensorSpec(dtype, tuple(spec.input.shape), spec.input.tensor)]),
        outputs=Schema(
            [TensorSpec(np.dtype(np.float32), (-1, len(spec.classes)), spec.output.tensor)]
        ),
    )
