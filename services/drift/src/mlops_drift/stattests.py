"""An Evidently stat test that compares two samples of a categorical column the right way.

Evidently's ``chisquare`` is a goodness-of-fit test: it takes the reference's class shares as
exact and tests the window against them. The reference is a sample too (a few hundred rows), so
that test ignores half the noise and raises false alarms well above its nominal level. The
chi-square test of *homogeneity* (a 2 × k contingency table, :func:`scipy.stats.chi2_contingency`)
treats both as samples. Importing this module registers it with Evidently as
``chi2_homogeneity``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
from evidently.legacy.core import ColumnType
from scipy.stats import chi2_contingency

CHI2_HOMOGENEITY: Final = "chi2_homogeneity"


def chi2_homogeneity_p_value(reference: pd.Series, current: pd.Series) -> float:
    """p-value of the chi-square test that both samples share one categorical distribution."""
    keys = sorted(set(reference.dropna().unique()) | set(current.dropna().unique()))
    if len(keys) < 2:
        return 1.0
    table = np.array(
        [
            reference.value_counts().reindex(keys, fill_value=0).to_numpy(),
            current.value_counts().reindex(keys, fill_value=0).to_numpy(),
        ]
    )
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    return float(chi2_contingency(table, correction=False).pvalue)


def _chi2_homogeneity(
    reference_data: pd.Series,
    current_data: pd.Series,
    feature_type: ColumnType,
    threshold: float,
) -> tuple[float, bool]:
    p_value = chi2_homogeneity_p_value(reference_data, current_data)
    return p_value, p_value < threshold


chi2_homogeneity_stat_test = StatTest(
    name=CHI2_HOMOGENEITY,
    display_name="chi-square homogeneity p_value",
    allowed_feature_types=[ColumnType.Categorical],
    default_threshold=0.05,
)

register_stattest(chi2_homogeneity_stat_test, default_impl=_chi2_homogeneity)
