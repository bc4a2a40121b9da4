"""A version's ``model-spec.json`` against its ONNX graph: refuse a spec that does not fit.

The gateway validates requests against the spec and the model runs them, so the two must agree:
the spec's input tensor must be an input of the graph with the same datatype and a shape that
fits (same rank; equal sizes where both are fixed; ``-1`` in the spec only where the graph takes
any size; a ``BYTES`` spec input is the graph's ``tensor(string)``), its output tensor an output
of the graph with one column per class, and every ``output:<tensor>:<i>`` column it monitors a
value of another output of the graph (``i`` within its values per instance, when fixed).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

from mlops_common.model_spec import ModelSpec
from mlops_inference.errors import ModelLoadError
from mlops_inference.messages import shape_text
from mlops_inference.model import TensorSpec


def _shape_fits(spec: Sequence[int], graph: Sequence[int]) -> bool:
    if len(spec) != len(graph):
        return False
    return all(g < 0 or s == g for s, g in zip(spec, graph, strict=True))


def spec_problems(
    spec: ModelSpec, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]
) -> list[str]:
    """Every way ``spec`` disagrees with the graph's ``inputs`` and ``outputs`` (empty: fits)."""
    problems: list[str] = []
    graph_inputs = {tensor.name: tensor for tensor in inputs}
    wanted = spec.input
    tensor = graph_inputs.get(wanted.tensor)
    if tensor is None:
        problems.append(
            f"input.tensor {wanted.tensor!r} is not an input of the graph "
            f"(its inputs: {sorted(graph_inputs)})"
        )
    else:
        if wanted.datatype != tensor.datatype:
            problems.append(
                f"input.datatype is {wanted.datatype} but the graph's {tensor.name!r} is "
                f"{tensor.datatype}"
            )
        if not _shape_fits(wanted.shape, tensor.shape):
            problems.append(
                f"input.shape {shape_text(wanted.shape)} does not fit the graph's "
                f"{tensor.name!r} shape {shape_text(tensor.shape)} (-1 = any size)"
            )
    graph_outputs = {tensor.name: tensor for tensor in outputs}
    output = graph_outputs.get(spec.output.tensor)
    if output is None:
        problems.append(
            f"output.tensor {spec.output.tensor!r} is not an output of the graph "
            f"(its outputs: {sorted(graph_outputs)})"
        )
    elif output.shape and output.shape[-1] >= 0 and output.shape[-1] != len(spec.classes):
        problems.append(
            f"output.classes names {len(spec.classes)} classes but the graph's "
            f"{output.name!r} has {output.shape[-1]} columns ({shape_text(output.shape)})"
        )
    problems.extend(_value_problems(spec, graph_outputs))
    return problems


def _value_problems(spec: ModelSpec, graph_outputs: dict[str, TensorSpec]) -> list[str]:
    problems: list[str] = []
    for tensor_name, index in spec.output_values:
        tensor = graph_outputs.get(tensor_name)
        source = f"output:{tensor_name}:{index}"
        if tensor is None:
            problems.append(
                f"monitored source {source!r} reads {tensor_name!r}, not an output of the graph "
                f"(its outputs: {sorted(graph_outputs)})"
            )
        elif tensor.dtype.hasobject:
            problems.append(f"monitored source {source!r} reads a BYTES output, not numbers")
        elif all(d >= 0 for d in tensor.shape[1:]) and index >= prod(tensor.shape[1:]):
            problems.append(
                f"monitored source {source!r} is past the {prod(tensor.shape[1:])} values per "
                f"instance of the graph's {tensor_name!r} ({shape_text(tensor.shape)})"
            )
    return problems


def check_spec(
    spec: ModelSpec, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec], where: str
) -> None:
    """Raise :class:`ModelLoadError` naming each mismatch when ``spec`` does not fit the graph."""
    problems = spec_problems(spec, inputs, outputs)
    if problems:
        raise ModelLoadError(
            f"the model-spec.json of {where} does not match its ONNX graph: " + "; ".join(problems)
        )
