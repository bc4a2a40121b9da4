"""The digits task's model spec: 64 pixel features on 0..16 in, 10 digit classes out.

The one place that spells out the digits task's shape as a spec; the features' layout itself
lives in :mod:`mlops_common.features` (the task's preprocessing). Every trained version carries
this spec as ``model-spec.json`` (see :mod:`mlops_common.model_spec`); the gateway also reads a
served digits graph that carries no spec (a first-wave version, a plain file) with it.
"""

from __future__ import annotations

from typing import Final

from mlops_common.features import FEATURE_MAX, FEATURE_MIN, FEATURE_NAMES, N_FEATURES
from mlops_common.model_spec import SOURCE_CONFIDENCE, SOURCE_LABEL, ModelSpec, parse_spec
from mlops_common.registry import (
    MODEL_NAME,
    N_CLASSES,
    ONNX_INPUT_NAME,
    ONNX_OUTPUT_NAME,
    REFERENCE_CONFIDENCE_COLUMN,
    REFERENCE_PREDICTION_COLUMN,
)

DIGITS_TASK: Final = "digits"
#: The 8×8 grid on 0..16 of :func:`mlops_common.features.image_to_features`.
DIGITS_PREPROCESSING: Final = "digits-8x8@1"


def digits_spec(name: str = MODEL_NAME) -> ModelSpec:
    """The spec of a trained digits version, validated (the columns drift monitors today)."""
    monitored = [
        {"name": column, "source": f"input:{index}"} for index, column in enumerate(FEATURE_NAMES)
    ]
    monitored += [
        {"name": REFERENCE_PREDICTION_COLUMN, "source": SOURCE_LABEL},
        {"name": REFERENCE_CONFIDENCE_COLUMN, "source": SOURCE_CONFIDENCE},
    ]
    return parse_spec(
        {
            "name": name,
            "task": DIGITS_TASK,
            "input": {
                "kind": "features",
                "tensor": ONNX_INPUT_NAME,
                "datatype": "FP32",
                "shape": [-1, N_FEATURES],
                "range": (FEATURE_MIN, FEATURE_MAX),
            },
            "output": {"tensor": ONNX_OUTPUT_NAME, "classes": [str(c) for c in range(N_CLASSES)]},
            "monitored": monitored,
            "preprocessing": DIGITS_PREPROCESSING,
            "trainable": True,
        }
    )


def is_digits_graph(
    input_tensor: str, input_shape: list[int], output_tensor: str, output_shape: list[int]
) -> bool:
    """True when a graph's one input and output have the digits layout (``features`` ``[n, 64]``
    in, ``probabilities`` ``[n, 10]`` out)."""
    return (
        input_tensor == ONNX_INPUT_NAME
        and input_shape[1:] == [N_FEATURES]
        and output_tensor == ONNX_OUTPUT_NAME
        and output_shape[1:] == [N_CLASSES]
    )
