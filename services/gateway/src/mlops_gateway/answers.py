"""The answer of a prediction request and the prediction ids it hands out."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
from numpy.typing import NDArray

from mlops_gateway.schemas import PredictResponse


@dataclass(frozen=True, slots=True)
class PredictionResult:
    """The answer of a prediction request, rendered straight to JSON (no model validation)."""

    request_id: str
    model_name: str
    model_version: str
    ids: list[str]
    labels: NDArray[np.int64]
    confidences: NDArray[np.float32]
    probabilities: NDArray[np.float32]
    classes: Sequence[str] = ()

    def to_json(self, *, class_names: bool = False) -> bytes:
        """The :class:`PredictResponse` document as JSON bytes (orjson).

        ``class_names``: each ``label`` is the class's name and ``class_index`` its index (the
        per-model routes); otherwise ``label`` is the index (the first wave's ``/v1/predict``).
        """
        labels, confidences = self.labels.tolist(), self.confidences.tolist()
        rows = self.probabilities.tolist()
        if class_names:
            names = self.classes
            predictions = [
                {
                    "id": self.ids[i],
                    "label": names[labels[i]],
                    "class_index": labels[i],
                    "confidence": confidences[i],
                    "probabilities": rows[i],
                }
                for i in range(len(self.ids))
            ]
        else:
            predictions = [
                {
                    "id": self.ids[i],
                    "label": labels[i],
                    "confidence": confidences[i],
                    "probabilities": rows[i],
                }
                for i in range(len(self.ids))
            ]
        return orjson.dumps(
            {
                "request_id": self.request_id,
                "model": {"name": self.model_name, "version": self.model_version},
                "predictions": predictions,
            }
        )

    def to_model(self) -> PredictResponse:
        """The same answer as a pydantic model."""
        return PredictResponse.model_validate_json(self.to_json())


def new_ids(n: int) -> list[str]:
    """``n`` random 128-bit ids as 32 hex digits (one ``urandom`` call, not one per id)."""
    raw = os.urandom(16 * n).hex()
    return [raw[32 * i : 32 * (i + 1)] for i in range(n)]
