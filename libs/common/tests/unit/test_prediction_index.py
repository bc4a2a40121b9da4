"""Index values name the model that answered and the prediction an id stands for."""

from __future__ import annotations

import pytest

from mlops_common.prediction_index import index_value, parse_index_value

pytestmark = pytest.mark.unit


def test_an_id_that_names_itself() -> None:
    assert parse_index_value("abc", index_value("iris")) == ("iris", "abc")


def test_a_request_id_names_its_prediction() -> None:
    assert parse_index_value("req", index_value("iris", "pred")) == ("iris", "pred")


def test_a_model_name_may_not_hide_the_separator() -> None:
    value = index_value("a.b-c", "pred")
    assert parse_index_value("req", value) == ("a.b-c", "pred")


@pytest.mark.parametrize(("value", "named"), [("", "abc"), ("pred", "pred")])
def test_values_written_before_models_had_names(value: str, named: str) -> None:
    assert parse_index_value("abc", value) == (None, named)
