"""Synthetic shifts of digit windows, and the detection suite that measures the verdict on them.

Test and benchmark code, kept out of the service's package: the drift benchmarks import it from
their folder, the drift tests through the ``sys.path`` entry their conftest adds.
A *shift* takes clean rows (features on the 0..16 scale, true labels) and returns the window
traffic would bring after the world changed. The suite needs a model to answer the windows'
predicted labels and confidences: the caller passes one (``predict``), so this package carries
no ML framework.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlops_common.features import FEATURE_MAX, FEATURE_NAMES, IMAGE_SIDE
from mlops_common.registry import (
    N_CLASSES,
    REFERENCE_CONFIDENCE_COLUMN,
    REFERENCE_LABEL_COLUMN,
    REFERENCE_PREDICTION_COLUMN,
)
from mlops_drift.detector import DriftConfig, check_drift

Features = NDArray[np.float64]
Labels = NDArray[np.int64]
#: features (n, 64) → class probabilities (n, 10)
Predict = Callable[[Features], NDArray[np.float64]]
#: (features, labels, window size, rng) → shifted (features, labels) of that size
Shift = Callable[[Features, Labels, int, np.random.Generator], tuple[Features, Labels]]

NOISE_SIGMA: Final = 2.0
BLEND_ALPHA: Final = 0.4
PRIOR_MAJORITY_SHARE: Final = 0.8


def _sample(
    features: Features, labels: Labels, size: int, rng: np.random.Generator
) -> tuple[Features, Labels]:
    index = rng.choice(len(features), size=size, replace=len(features) < size)
    return features[index], labels[index]


def clean(
    features: Features, labels: Labels, size: int, rng: np.random.Generator
) -> tuple[Features, Labels]:
    """Rows drawn as they are (no shift)."""
    return _sample(features, labels, size, rng)


def gaussian_noise(
    features: Features, labels: Labels, size: int, rng: np.random.Generator
) -> tuple[Features, Labels]:
    """Additive Gaussian noise (σ = 2 on the 0..16 scale), clipped to the range."""
    x, y = _sample(features, labels, size, rng)
    return np.clip(x + rng.normal(0.0, NOISE_SIGMA, x.shape), 0.0, FEATURE_MAX), y


def inverted(
    features: Features, labels: Labels, size: int, rng: np.random.Generator
) -> tuple[Features, Labels]:
    """Inverted intensities (light ink on dark paper read the wrong way round)."""
    x, y = _sample(features, labels, size, rng)
    return FEATURE_MAX - x, y


def _translate(image: Features, dy: int, dx: int) -> Features:
    out = np.zeros_like(image)
    src = image[max(0, -dy) : IMAGE_SIDE - max(0, dy), max(0, -dx) : IMAGE_SIDE - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out


def translated(
    features: Features, labels: Labels, size: int, rng: np.random.Generator
) -> tuple[Features, Labels]:
    """Each image moved by 1–2 pixels in a random direction (blank pixels fill in)."""
    x, y = _sample(features, labels, size, rng)
    images = x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    moved = np.empty_like(images)
    for i, image in enumerate(images):
        while True:
            dy, dx = (int(v) for v in rng.integers(-2, 3, size=2))
            if (dy, dx) != (0, 0):
                break
        moved[i] = _translate(image, dy, dx)
    return moved.reshape(len(x), -1), y


def class_prior(
    features: Features, labels: Labels, size: int, rng: np.random.Generator
) -> tuple[Features, Labels]:
    """A class-prior change: five random classes make 80% of the window (16% each, not 10%)."""
    majority = np.isin(labels, rng.choice(N_CLASSES, size=N_CLASSES // 2, replace=False))
    probs = np.where(
        majority,
        PRIOR_MAJORITY_SHARE / majority.sum(),
        (1 - PRIOR_MAJORITY_SHARE) / (~majority).sum(),
    )
    index = rng.choice(len(features), size=size, p=probs / probs.sum())
    return features[index], labels[index]


def blended(
    features: Features, labels: Labels, size: int, rng: np.random.Generator
) -> tuple[Features, Labels]:
    """Each image blended (40%) with an image of another class; the label stays the first's."""
    x, y = _sample(features, labels, size, rng)
    out = np.empty_like(x)
    for i, label in enumerate(y):
        others = np.flatnonzero(labels != label)
        other = features[rng.choice(others)]
        out[i] = (1 - BLEND_ALPHA) * x[i] + BLEND_ALPHA * other
    return out, y


SHIFTS: Final[Mapping[str, Shift]] = {
    "gaussian_noise": gaussian_noise,
    "inverted": inverted,
    "translation": translated,
    "class_prior": class_prior,
    "blend": blended,
}


def frame(features: Features, labels: Labels, probabilities: NDArray[np.float64]) -> pd.DataFrame:
    """Rows in the reference layout: 64 features, ``label``, ``prediction``, ``confidence``."""
    table = pd.DataFrame(np.asarray(features, dtype=np.float64), columns=list(FEATURE_NAMES))
    table[REFERENCE_LABEL_COLUMN] = np.asarray(labels, dtype=np.int64)
    table[REFERENCE_PREDICTION_COLUMN] = probabilities.argmax(axis=1).astype(np.int64)
    table[REFERENCE_CONFIDENCE_COLUMN] = probabilities.max(axis=1)
    return table


@dataclass(frozen=True, slots=True)
class SuiteRow:
    """Outcome of the suite for one shift: how many windows were flagged as drift."""

    shift: str
    windows: int
    flagged: int
    mean_drifted_share: float
    mean_check_s: float
    by_features: int = 0
    by_labels: int = 0
    by_confidence: int = 0

    @property
    def rate(self) -> float:
        """Share of windows flagged (detection rate, or false-alarm rate for ``clean``)."""
        return self.flagged / self.windows if self.windows else 0.0


def run_suite(
    reference: pd.DataFrame,
    pool_features: Features,
    pool_labels: Labels,
    predict: Predict,
    *,
    window_size: int = 200,
    windows: Mapping[str, int],
    config: DriftConfig | None = None,
    seed: int = 0,
) -> list[SuiteRow]:
    """Check ``windows[name]`` windows of each shift (``clean`` for none) against ``reference``."""
    shifts: dict[str, Shift] = {"clean": clean, **SHIFTS}
    rows = []
    for name, count in windows.items():
        shift = shifts[name]
        rng = np.random.default_rng([seed, len(name), sum(map(ord, name))])
        flagged, shares, seconds = 0, [], []
        families = np.zeros(3, dtype=int)
        for _ in range(count):
            x, y = shift(pool_features, pool_labels, window_size, rng)
            verdict = check_drift(reference, frame(x, y, predict(x)), config)
            flagged += int(verdict.drift_detected)
            families += (verdict.feature_drift, verdict.label_drift, verdict.confidence_drift)
            shares.append(verdict.drifted_share)
            seconds.append(verdict.duration_s)
        rows.append(
            SuiteRow(
                name,
                count,
                flagged,
                float(np.mean(shares)) if shares else 0.0,
                float(np.mean(seconds)) if seconds else 0.0,
                *(int(n) for n in families),
            )
        )
    return rows
