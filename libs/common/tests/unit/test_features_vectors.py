"""Validation of raw feature vectors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlops_common.errors import EmptyInputError, InvalidFeaturesError
from mlops_common.features import FEATURE_NAMES, N_FEATURES, validate_features


def test_valid_instances_become_float32_matrix() -> None:
    rows = [[float(i % 17) for i in range(64)], [0] * 64]
    array = validate_features(rows)
    assert array.shape == (2, N_FEATURES)
    assert array.dtype == np.float32
    assert array[0, 16] == 16.0


def test_feature_names_follow_sklearn() -> None:
    assert len(FEATURE_NAMES) == N_FEATURES
    assert FEATURE_NAMES[0] == "pixel_0_0"
    assert FEATURE_NAMES[9] == "pixel_1_1"
    assert FEATURE_NAMES[-1] == "pixel_7_7"


def test_63_features_say_which_instance_and_how_many() -> None:
    with pytest.raises(InvalidFeaturesError, match=r"instance 1 has 63 values; expected 64"):
        validate_features([[0.0] * 64, [0.0] * 63])


def test_nan_is_refused_with_its_position() -> None:
    row = [0.0] * 64
    row[5] = math.nan
    with pytest.raises(InvalidFeaturesError, match=r"instance 0 .*non-finite.* position 5"):
        validate_features([row])


def test_infinity_is_refused() -> None:
    with pytest.raises(InvalidFeaturesError, match="non-finite"):
        validate_features(np.full((1, 64), np.inf))


@pytest.mark.parametrize("value", [-0.5, 16.01, 255.0])
def test_values_outside_0_16_are_refused(value: float) -> None:
    row = [1.0] * 64
    row[10] = value
    with pytest.raises(InvalidFeaturesError, match=r"position 10; values must lie in 0\.\.16"):
        validate_features([row])


def test_empty_list_is_empty_input() -> None:
    with pytest.raises(EmptyInputError):
        validate_features([])


def test_non_numbers_are_refused() -> None:
    with pytest.raises(InvalidFeaturesError, match="numbers"):
        validate_features([["a"] * 64])  # type: ignore[list-item]


def test_null_is_refused_as_missing() -> None:
    with pytest.raises(InvalidFeaturesError, match="missing or non-finite"):
        validate_features([[None] * 64])  # type: ignore[list-item]


def test_a_string_instead_of_a_row_is_refused() -> None:
    with pytest.raises(InvalidFeaturesError, match="instance 0 is not a list"):
        validate_features(["0" * 64])  # type: ignore[list-item]


def test_wrong_shape_array_is_refused() -> None:
    with pytest.raises(InvalidFeaturesError, match=r"shape \[2, 8, 8\]"):
        validate_features(np.zeros((2, 8, 8)))


def test_instance_limit() -> None:
    with pytest.raises(InvalidFeaturesError, match="limit is 2"):
        validate_features(np.zeros((3, 64)), max_instances=2)


@given(arrays(np.float64, (3, 64), elements=st.floats(0, 16)))
def test_every_in_range_matrix_passes_unchanged(values: np.ndarray) -> None:
    np.testing.assert_allclose(validate_features(values), values.astype(np.float32))
