"""The one-file FastAPI + PyTorch serving app an MLOps course teaches, on the digits CNN.

Loads the network at startup (eager PyTorch, ``model.eval()``), answers ``POST /predict`` with
``{"instances": [[64 floats], ...]}`` under ``torch.no_grad()``, returning the predicted class
and the probabilities of each instance. Torch's threads are left at its default (one per CPU),
as a course leaves them. Run by ``benchmarks/serving_frameworks.py`` from its own venv:

    MODEL_DIR=DIR python -m uvicorn fastapi_torch_app:app --app-dir benchmarks/frameworks

``MODEL_DIR`` holds ``model.pt`` (the ``DigitsCNN`` state_dict) and ``model.json`` (its sizes);
the class comes from the repository (``mlops_trainer.models`` on the PYTHONPATH).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI
from pydantic import BaseModel

from mlops_trainer.models import DigitsCNN, ProbabilityModel

state: dict[str, Any] = {}


class PredictRequest(BaseModel):
    """Rows of 64 pixel intensities (0..16)."""

    instances: list[list[float]]


class PredictResponse(BaseModel):
    """The predicted class and the class probabilities of each row."""

    predictions: list[int]
    probabilities: list[list[float]]


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Load the model once, at startup."""
    folder = Path(os.environ["MODEL_DIR"])
    network = DigitsCNN(**json.loads((folder / "model.json").read_text()))
    network.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
    state["model"] = ProbabilityModel(network).eval()
    yield
    state.clear()


app = FastAPI(lifespan=lifespan)


@app.get("/health")
def health() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@app.post("/predict")
def predict(request: PredictRequest) -> PredictResponse:
    """Run the network on the rows."""
    with torch.no_grad():
        probabilities = state["model"](torch.tensor(request.instances, dtype=torch.float32))
    return PredictResponse(
        predictions=probabilities.argmax(dim=1).tolist(), probabilities=probabilities.tolist()
    )
