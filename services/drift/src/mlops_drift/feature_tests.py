"""Per-feature drift tests: Evidently's stat test on each feature column, every score kept.

Evidently's ``DriftedColumnsCount`` runs the same per-column test but reports only the count and
the share, so the service runs the test itself, column by column, through Evidently's stat-test
registry (``get_stattest`` → the registered implementation, with the configured threshold),
exactly as Evidently's data-drift metrics do, and keeps each column's score and flag. The count
and the share of drifted columns follow from them, so the verdict is unchanged and no column is
tested twice (the two-sample K-S test is the costly part of a check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

#: Significant digits kept of each score in the public status.
SCORE_DIGITS: Final = 4
#: Infinite scores (a divergence of disjoint samples) are clipped to this, for JSON.
MAX_SCORE: Final = 1e300


class FeatureTestError(ValueError):
    """A feature column cannot be tested (no finite values in it)."""

    code = "invalid_drift_input"


@dataclass(frozen=True, slots=True)
class FeatureTests:
    """The outcome of the per-feature tests of one check."""

    #: Feature name → the test's score (a p-value for K-S and the other p-value tests).
    scores: dict[str, float]
    #: Names of the features whose test found drift, in feature order.
    drifted: tuple[str, ...]
    method: str
    #: Evidently's name of the test, e.g. ``K-S p_value`` or ``Wasserstein distance (normed)``.
    display_name: str
    threshold: float

    @property
    def count(self) -> int:
        """How many features drifted."""
        return len(self.drifted)

    @property
    def share(self) -> float:
        """Share of the tested features that drifted."""
        return len(self.drifted) / len(self.scores) if self.scores else 0.0

    @property
    def score_is_p_value(self) -> bool:
        """True when a low score means drift (a p-value); False for distances."""
        return _is_p_value(self.display_name)

    def public(self) -> dict[str, object]:
        """The JSON the status shows: scores, drifted names and how to read them."""
        return {
            "feature_scores": {name: _rounded(score) for name, score in self.scores.items()},
            "drifted_features": list(self.drifted),
            "feature_test": {
                "method": self.method,
                "name": self.display_name,
                "threshold": self.threshold,
                "score_is_p_value": self.score_is_p_value,
            },
        }


def _is_p_value(display_name: str) -> bool:
    # Evidently names its p-value tests "... p_value" (K-S, chi-square, Z, T, Mann-Whitney…)
    return "p_value" in display_name.replace("-", "_").lower()


def _rounded(score: float) -> float:
    return float(f"{score:.{SCORE_DIGITS}g}")


def _finite(column: pd.Series, what: str, name: str) -> pd.Series:
    """The column without NaN/±inf, as Evidently cleans it before a test."""
    values = column.replace([-np.inf, np.inf], np.nan).dropna()
    if values.empty:
        raise FeatureTestError(f"the {what}'s column {name!r} holds no finite value")
    return values


def score_features(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    method: str,
    threshold: float,
    columns: tuple[str, ...],
) -> FeatureTests:
    """Run Evidently's ``method`` on each of ``columns`` (numerical) at ``threshold``.

    Raises:
        FeatureTestError: a column holds no finite value.
    """
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    scores: dict[str, float] = {}
    drifted: list[str] = []
    display_name = method
    for name in columns:
        ref = _finite(reference[name], "reference", name)
        cur = _finite(current[name], "window", name)
        test = get_stattest(ref, cur, ColumnType.Numerical, method)
        outcome = test(ref, cur, ColumnType.Numerical, threshold)
        display_name = test.display_name
        scores[name] = float(outcome.drift_score)
        if outcome.drifted:
            drifted.append(name)
    # JSON holds no NaN or infinity: an undecided test (NaN) reads as no evidence of drift
    no_evidence = 1.0 if _is_p_value(display_name) else 0.0
    for name, score in scores.items():
        if np.isnan(score):
            scores[name] = no_evidence
        elif np.isinf(score):
            scores[name] = float(np.clip(score, -MAX_SCORE, MAX_SCORE))
    return FeatureTests(
        scores=scores,
        drifted=tuple(drifted),
        method=method,
        display_name=display_name,
        threshold=threshold,
    )
