"""The same one-file FastAPI app as ``fastapi_torch_app.py``, on onnxruntime.

The session gets the options of the platform's inference service (all graph optimisations,
sequential, one inter-op thread, intra-op threads = the CPUs this process may use, no
spinning). Run by ``benchmarks/serving_frameworks.py`` from its own venv:

    MODEL_DIR=DIR python -m uvicorn fastapi_onnx_app:app --app-dir benchmarks/frameworks

``MODEL_DIR`` holds ``model.onnx`` (input ``features`` float32[N,64], output ``probabilities``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel

state: dict[str, Any] = {}


class PredictRequest(BaseModel):
    """Rows of 64 pixel intensities (0..16)."""

    instances: list[list[float]]


class PredictResponse(BaseModel):
    """The predicted class and the class probabilities of each row."""

    predictions: list[int]
    probabilities: list[list[float]]


def session_options() -> ort.SessionOptions:
    """What the platform's inference service uses (``mlops_inference.model.session_options``)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Load the model once, at startup."""
    path = Path(os.environ["MODEL_DIR"]) / "model.onnx"
    state["session"] = ort.InferenceSession(
        str(path), session_options(), providers=["CPUExecutionProvider"]
    )
    yield
    state.clear()


app = FastAPI(lifespan=lifespan)


@app.get("/health")
def health() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@app.post("/predict")
def predict(request: PredictRequest) -> PredictResponse:
    """Run the model on the rows."""
    features = np.asarray(request.instances, dtype=np.float32)
    (probabilities,) = state["session"].run(["probabilities"], {"features": features})
    return PredictResponse(
        predictions=probabilities.argmax(axis=1).tolist(), probabilities=probabilities.tolist()
    )
