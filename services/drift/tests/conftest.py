"""Shared fixtures of the drift tests: a digits model, its reference, a held-out pool, traffic.

The synthetic shifts live with the benchmarks (``benchmarks/_drift_simulation.py``), outside the
service's package; the tests import them as ``_drift_simulation`` through the path added here.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from _drift_simulation import frame

from mlops_common.redis_keys import TrafficEntry


@dataclass(frozen=True)
class Digits:
    """A logistic-regression model, its reference frame and a held-out pool (no overlap)."""

    reference: pd.DataFrame
    pool_x: NDArray[np.float64]
    pool_y: NDArray[np.int64]
    predict: Callable[[NDArray[np.float64]], NDArray[np.float64]]

    def window(self, x: NDArray[np.float64], y: NDArray[np.int64]) -> pd.DataFrame:
        """Rows ``x`` with the model's predictions, in the reference layout."""
        return frame(x, y, self.predict(x))

    def entries(
        self, x: NDArray[np.float64], model_version: str = "1", timestamp: float | None = None
    ) -> list[TrafficEntry]:
        """Traffic entries as the gateway logs them for rows ``x``."""
        probabilities = self.predict(x)
        entries = []
        for features, probs in zip(x, probabilities, strict=True):
            kwargs = {} if timestamp is None else {"timestamp": timestamp}
            entries.append(
                TrafficEntry(
                    id=uuid.uuid4().hex,
                    request_id=uuid.uuid4().hex,
                    model_version=model_version,
                    features=features.astype(np.float32),
                    label=int(probs.argmax()),
                    confidence=float(probs.max()),
                    latency_ms=1.0,
                    **kwargs,
                )
            )
        return entries


@pytest.fixture(scope="session")
def digits() -> Digits:
    """Digits split 40% model / 25% reference / 35% pool, as the benchmark splits them."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    features, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(features))
    features, labels = features[order].astype(np.float64), labels[order].astype(np.int64)
    n_train, n_ref = int(0.40 * len(features)), int(0.25 * len(features))
    model = LogisticRegression(max_iter=3000).fit(features[:n_train] / 16.0, labels[:n_train])

    def predict(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(model.predict_proba(np.asarray(x) / 16.0), dtype=np.float64)

    ref_x, ref_y = features[n_train : n_train + n_ref], labels[n_train : n_train + n_ref]
    return Digits(
        reference=frame(ref_x, ref_y, predict(ref_x)),
        pool_x=features[n_train + n_ref :],
        pool_y=labels[n_train + n_ref :],
        predict=predict,
    )


@pytest.fixture
def reference_csv(tmp_path: Path, digits: Digits) -> Path:
    """The digits reference written as the trainer registers it."""
    path = tmp_path / "reference" / "features.csv"
    path.parent.mkdir(parents=True)
    digits.reference.to_csv(path, index=False)
    return path
