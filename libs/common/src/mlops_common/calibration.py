"""Calibrated confidence and the label-free accuracy estimate built on it (CBPE).

A model's confidence (its top probability) is rarely the chance that its answer is right. The
trainer fits a monotone map from confidence to that chance on the validation split (isotonic
regression; :func:`mlops_trainer.calibration.fit_calibration`) and registers it with the version
as :data:`CALIBRATION_ARTIFACT`. With calibrated confidences, the expected accuracy of a window of
unlabelled traffic is their mean: confidence-based performance estimation (CBPE) as NannyML
defines it for accuracy, ``E[accuracy] = (1/n) · Σ P(ŷᵢ = yᵢ | xᵢ)``
(https://nannyml.readthedocs.io/en/stable/how_it_works/performance_estimation.html). It holds
while the calibration does: under label shift, not when inputs move where the model is
confidently wrong (the drift verdict covers those).

Only numpy: drift applies it to the confidence each traffic entry logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field, model_validator

CALIBRATION_ARTIFACT: Final = "calibration.json"


class ConfidenceCalibration(BaseModel):
    """A monotone piecewise-linear map from confidence to P(correct): ``np.interp`` over the
    points ``(x, y)``, constant beyond them. ``ece_raw``/``ece_calibrated``: the expected
    calibration error on the held-out rows it was checked on, before and after."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = "isotonic"
    x: list[float] = Field(min_length=1)
    y: list[float] = Field(min_length=1)
    fitted_rows: int = Field(ge=1)
    ece_raw: float | None = None
    ece_calibrated: float | None = None

    @model_validator(mode="after")
    def _points(self) -> ConfidenceCalibration:
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} points, y has {len(self.y)}")
        if any(b < a for a, b in zip(self.x, self.x[1:], strict=False)):
            raise ValueError("x must be non-decreasing")
        if any(not 0.0 <= value <= 1.0 for value in (*self.x, *self.y)):
            raise ValueError("x and y are probabilities in [0, 1]")
        return self

    def apply(self, confidences: ArrayLike) -> np.ndarray:
        """P(correct) for each confidence."""
        return np.interp(np.asarray(confidences, dtype=np.float64), self.x, self.y)

    def to_json(self) -> str:
        """The JSON text of :data:`CALIBRATION_ARTIFACT`."""
        return self.model_dump_json(indent=2) + "\n"


def expected_accuracy(
    confidences: ArrayLike, calibration: ConfidenceCalibration | None = None
) -> float:
    """CBPE: the mean calibrated confidence of a window (the raw mean without a calibration)."""
    values = np.asarray(confidences, dtype=np.float64)
    if not values.size:
        raise ValueError("no confidences to estimate from")
    calibrated = calibration.apply(values) if calibration is not None else values
    return float(calibrated.mean())


def expected_calibration_error(confidences: ArrayLike, correct: ArrayLike, bins: int = 15) -> float:
    """ECE: the row-weighted mean |accuracy − mean confidence| over ``bins`` equal-width bins."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape or not conf.size:
        raise ValueError(f"need as many confidences as outcomes, got {conf.shape} and {hit.shape}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(hit[mask].mean() - conf[mask].mean())
    return float(error)


def from_points(
    x: Sequence[float],
    y: Sequence[float],
    rows: int,
    *,
    ece_raw: float | None = None,
    ece_calibrated: float | None = None,
) -> ConfidenceCalibration:
    """A calibration from fitted points (clipped to [0, 1])."""
    return ConfidenceCalibration(
        x=[float(np.clip(v, 0.0, 1.0)) for v in x],
        y=[float(np.clip(v, 0.0, 1.0)) for v in y],
        fitted_rows=rows,
        ece_raw=ece_raw,
        ece_calibrated=ece_calibrated,
    )
