"""Metrics of probabilities on labelled data, the confusion matrix, and the drift reference."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import NDArray
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from mlops_common.features import FEATURE_NAMES
from mlops_common.model_spec import ModelSpec
from mlops_common.registry import (
    REFERENCE_CONFIDENCE_COLUMN,
    REFERENCE_LABEL_COLUMN,
    REFERENCE_PREDICTION_COLUMN,
)
from mlops_trainer.export import onnx_inputs, onnx_proba, onnx_session


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
    path: Path, features: NDArray[Any], labels: NDArray[np.int64]
) -> dict[str, float]:
    """Test metrics of an ONNX model file (a candidate or the production model)."""
    return classification_metrics(onnx_proba(onnx_session(path), features), labels)


def confusion_figure(
    probabilities: NDArray[np.float32],
    labels: NDArray[np.int64],
    classes: Sequence[str] | None = None,
) -> Figure:
    """A labelled confusion-matrix heat map (rows: true class, columns: predicted)."""
    n_classes = probabilities.shape[1]
    matrix = confusion_matrix(labels, probabilities.argmax(axis=1), labels=list(range(n_classes)))
    figure = Figure(figsize=(5 + 0.1 * n_classes, 4.5))
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
        xticks=range(n_classes),
        yticks=range(n_classes),
        xticklabels=list(classes) if classes else [str(c) for c in range(n_classes)],
        yticklabels=list(classes) if classes else [str(c) for c in range(n_classes)],
        xlabel="predicted",
        ylabel="true",
        title="Test confusion matrix",
    )
    figure.tight_layout()
    return figure


def reference_sample(count: int, *, rows: int, seed: int) -> NDArray[np.int64]:
    """The seeded, sorted positions of the reference's rows among ``count`` training rows."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(count, size=min(rows, count), replace=False))


def reference_frame(
    features: NDArray[np.float32],
    labels: NDArray[np.int64],
    probabilities: NDArray[np.float32],
    *,
    rows: int,
    seed: int,
    columns: Sequence[str] = FEATURE_NAMES,
    sampled: bool = False,
) -> pd.DataFrame:
    """The drift reference: a seeded sample of training rows with the model's own answers.

    ``columns`` name the ``features``' columns; ``sampled``: the arrays are the sample already.
    """
    take = (
        np.arange(len(features))
        if sampled
        else reference_sample(len(features), rows=rows, seed=seed)
    )
    frame = pd.DataFrame(features[take], columns=list(columns))
    frame[REFERENCE_LABEL_COLUMN] = labels[take]
    frame[REFERENCE_PREDICTION_COLUMN] = probabilities[take].argmax(axis=1)
    frame[REFERENCE_CONFIDENCE_COLUMN] = probabilities[take].max(axis=1)
    return frame


def text_reference_frame(
    path: Path, spec: ModelSpec, texts: NDArray[Any], labels: NDArray[np.int64], batch: int = 64
) -> pd.DataFrame:
    """The drift reference of a text model: its monitored output values for ``texts`` (the
    sample), computed by the exported graph itself, as traffic's are; then label, prediction,
    confidence."""
    session = onnx_session(path)
    names = [output.name for output in session.get_outputs()]
    chunks = [
        dict(zip(names, session.run(None, onnx_inputs(session, texts[i : i + batch])), strict=True))
        for i in range(0, len(texts), batch)
    ]
    outputs = {name: np.concatenate([chunk[name] for chunk in chunks]) for name in names}
    values: dict[str, Any] = {}
    for column in spec.monitored:
        source = column.output_value
        if source is not None:
            tensor, index = source
            values[column.name] = outputs[tensor].reshape(len(texts), -1)[:, index]
    frame = pd.DataFrame(values)
    probabilities = outputs[spec.output.tensor]
    frame[REFERENCE_LABEL_COLUMN] = labels
    frame[REFERENCE_PREDICTION_COLUMN] = probabilities.argmax(axis=1)
    frame[REFERENCE_CONFIDENCE_COLUMN] = probabilities.max(axis=1)
    return frame
