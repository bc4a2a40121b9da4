"""Metrics of probabilities on labelled data, the confusion matrix, and the drift reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import NDArray
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from mlops_common.features import FEATURE_NAMES
from mlops_common.registry import (
    N_CLASSES,
    REFERENCE_CONFIDENCE_COLUMN,
    REFERENCE_LABEL_COLUMN,
    REFERENCE_PREDICTION_COLUMN,
)
from mlops_trainer.export import onnx_proba, onnx_session


def classification_metrics(
    probabilities: NDArray[np.float32], labels: NDArray[np.int64], prefix: str = "test_"
) -> dict[str, float]:
    """Accuracy and macro F1 of the argmax of ``probabilities``."""
    predictions = probabilities.argmax(axis=1)
    return {
        f"{prefix}accuracy": float(accuracy_score(labels, predictions)),
        f"{prefix}f1": float(f1_score(labels, predictions, average="macro")),
    }


def evaluate_onnx(
    path: Path, features: NDArray[np.float32], labels: NDArray[np.int64]
) -> dict[str, float]:
    """Test metrics of an ONNX model file (a candidate or the production model)."""
    return classification_metrics(onnx_proba(onnx_session(path), features), labels)


def confusion_figure(probabilities: NDArray[np.float32], labels: NDArray[np.int64]) -> Figure:
    """A labelled confusion-matrix heat map (rows: true class, columns: predicted)."""
    matrix = confusion_matrix(labels, probabilities.argmax(axis=1), labels=list(range(N_CLASSES)))
    figure = Figure(figsize=(5, 4.5))
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            axes.text(
                col,
                row,
                str(count),
                ha="center",
                va="center",
                color="white" if count > matrix.max() / 2 else "black",
                fontsize=8,
            )
    axes.set(
        xticks=range(N_CLASSES),
        yticks=range(N_CLASSES),
        xlabel="predicted",
        ylabel="true",
        title="Test confusion matrix",
    )
    figure.tight_layout()
    return figure


def reference_frame(
    features: NDArray[np.float32],
    labels: NDArray[np.int64],
    probabilities: NDArray[np.float32],
    *,
    rows: int,
    seed: int,
) -> pd.DataFrame:
    """The drift reference: a seeded sample of training rows with the model's own answers."""
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(features), size=min(rows, len(features)), replace=False))
    frame = pd.DataFrame(features[take], columns=list(FEATURE_NAMES))
    frame[REFERENCE_LABEL_COLUMN] = labels[take]
    frame[REFERENCE_PREDICTION_COLUMN] = probabilities[take].argmax(axis=1)
    frame[REFERENCE_CONFIDENCE_COLUMN] = probabilities[take].max(axis=1)
    return frame
