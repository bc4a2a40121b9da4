"""An MLServer custom runtime for the digits ONNX model (``benchmarks/serving_frameworks.py``).

``load()`` opens an onnxruntime session with the platform's inference-service options (all graph
optimisations, sequential, one inter-op thread, intra-op threads = the CPUs this process may
use, no spinning); ``predict()`` decodes the one input with MLServer's ``NumpyCodec`` and
answers the class probabilities (``probabilities``, FP32 ``[N, 10]``). The model file is the
``uri`` of ``model-settings.json``; with adaptive batching on, MLServer concatenates the requests
of a batch along the first axis before ``predict()`` and splits the answer after it.
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


def session_options() -> ort.SessionOptions:
    """What the platform's inference service uses (``mlops_inference.model.session_options``)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class DigitsOnnxRuntime(MLModel):
    """Features float32 ``[N, 64]`` → class probabilities float32 ``[N, 10]``."""

    async def load(self) -> bool:
        """Open the session on the model file."""
        path = await get_model_uri(self._settings)
        self._session = ort.InferenceSession(
            path, session_options(), providers=["CPUExecutionProvider"]
        )
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        """Run the model on the request's one input."""
        features = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32, copy=False)
        (probabilities,) = self._session.run(["probabilities"], {"features": features})
        output = NumpyCodec.encode_output(name="probabilities", payload=probabilities)
        return InferenceResponse(model_name=self.name, id=payload.id, outputs=[output])
