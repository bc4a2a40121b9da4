"""The synthetic shifts do what they say and stay on the feature scale."""

from __future__ import annotations

import numpy as np
import pytest
from _drift_simulation import SHIFTS, class_prior, inverted, translated


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_shift_keeps_shape_and_range(digits, name: str) -> None:  # type: ignore[no-untyped-def]
    x, y = SHIFTS[name](digits.pool_x, digits.pool_y, 150, np.random.default_rng(1))
    assert x.shape == (150, 64)
    assert y.shape == (150,)
    assert x.min() >= 0.0
    assert x.max() <= 16.0


def test_inverted_flips_the_scale(digits) -> None:  # type: ignore[no-untyped-def]
    x, _ = inverted(digits.pool_x, digits.pool_y, 50, np.random.default_rng(2))
    assert np.isin(x, 16.0 - digits.pool_x).all()
    assert x.mean() > 8.0


def test_translation_moves_ink_and_keeps_no_image_in_place(digits) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    x, _ = translated(digits.pool_x[:1], digits.pool_y[:1], 40, rng)
    original = digits.pool_x[0]
    assert not any(np.array_equal(row, original) for row in x)
    assert all(row.sum() <= original.sum() for row in x)


def test_class_prior_puts_most_rows_in_half_the_classes(digits) -> None:  # type: ignore[no-untyped-def]
    _, y = class_prior(digits.pool_x, digits.pool_y, 2000, np.random.default_rng(4))
    counts = np.sort(np.bincount(y, minlength=10))[::-1]
    assert 0.75 < counts[:5].sum() / 2000 < 0.85
