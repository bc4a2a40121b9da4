"""The columns a model is monitored on, read from its spec's ``monitored`` list.

A spec's *logged* columns are the features (tested one by one): a numeric input's ``input:<i>``
columns, or a text model's ``output:<tensor>:<i>`` columns (its pooled embedding, token count,
out-of-vocabulary share...), whose values the gateway logs in each traffic entry. The
``output:label`` column holds the predicted class (the label test) and the ``output:confidence``
column its probability (the confidence test). A window of traffic and the reference CSV name the
columns alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mlops_common.model_spec import SOURCE_CONFIDENCE, SOURCE_LABEL, ModelSpec
from mlops_common.registry import (
    REFERENCE_CONFIDENCE_COLUMN,
    REFERENCE_LABEL_COLUMN,
    REFERENCE_PREDICTION_COLUMN,
)


@dataclass(frozen=True, slots=True)
class MonitoredColumns:
    """Names of a model's monitored columns, by role, in the spec's order."""

    #: The logged columns' names, and where each one's value sits in a traffic entry's
    #: ``features`` (:meth:`~mlops_common.model_spec.ModelSpec.logged_position`).
    features: tuple[str, ...]
    positions: tuple[int, ...]
    #: The column of the predicted class index (``output:label``), if monitored.
    prediction: str | None = None
    #: The column of the predicted class's probability (``output:confidence``), if monitored.
    confidence: str | None = None

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> MonitoredColumns:
        """The columns ``spec.monitored`` names; each feature's position is the one
        :meth:`~mlops_common.model_spec.ModelSpec.logged_position` gives (an input position, or
        for a text model the column's rank among its ``output:<tensor>:<i>`` columns)."""
        features: list[str] = []
        positions: list[int] = []
        prediction = confidence = None
        for column in spec.monitored:
            position = spec.logged_position(column)
            if position is not None:
                features.append(column.name)
                positions.append(position)
            elif column.source == SOURCE_LABEL:
                prediction = column.name
            elif column.source == SOURCE_CONFIDENCE:
                confidence = column.name
        return cls(tuple(features), tuple(positions), prediction, confidence)

    @classmethod
    def infer(cls, frame: pd.DataFrame) -> MonitoredColumns:
        """The columns of a frame in the trainer's reference layout, for callers without a spec:
        every column but ``label``, ``prediction`` and ``confidence`` is a feature, in order."""
        outputs = (REFERENCE_LABEL_COLUMN, REFERENCE_PREDICTION_COLUMN, REFERENCE_CONFIDENCE_COLUMN)
        features = tuple(str(c) for c in frame.columns if c not in outputs)
        return cls(
            features,
            tuple(range(len(features))),
            REFERENCE_PREDICTION_COLUMN if REFERENCE_PREDICTION_COLUMN in frame.columns else None,
            REFERENCE_CONFIDENCE_COLUMN if REFERENCE_CONFIDENCE_COLUMN in frame.columns else None,
        )

    @property
    def names(self) -> list[str]:
        """Every monitored column's name: the features, then prediction and confidence."""
        outputs = [name for name in (self.prediction, self.confidence) if name is not None]
        return [*self.features, *outputs]

    @property
    def min_width(self) -> int:
        """The fewest logged values an instance needs to fill every feature column."""
        return max(self.positions, default=-1) + 1

    def present(self, frame: pd.DataFrame) -> MonitoredColumns:
        """These columns without the prediction or confidence column that ``frame`` lacks."""
        return MonitoredColumns(
            self.features,
            self.positions,
            self.prediction if self.prediction in frame.columns else None,
            self.confidence if self.confidence in frame.columns else None,
        )
