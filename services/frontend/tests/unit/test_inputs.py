"""What the pages compute from a model's spec: the features table's columns, pasted rows, and
timestamps shown whole."""

from __future__ import annotations

import datetime as dt

import pytest

from mlops_common.model_spec import ModelSpec
from mlops_frontend.inputs.features import RowsError, column_names, parse_rows
from mlops_frontend.ui import timestamp


def features_spec(monitored: list[dict[str, str]]) -> ModelSpec:
    return ModelSpec.model_validate(
        {
            "name": "m",
            "task": "t",
            "input": {"kind": "features", "tensor": "x", "datatype": "FP32", "shape": [-1, 3]},
            "output": {"tensor": "p", "classes": ["a", "b"]},
            "monitored": monitored,
            "preprocessing": "identity@1",
            "trainable": False,
        }
    )


def test_columns_are_named_by_the_monitored_inputs_else_x_i() -> None:
    assert column_names(features_spec([])) == ["x0", "x1", "x2"]
    named = features_spec(
        [
            {"name": "height", "source": "input:0"},
            {"name": "weight", "source": "input:2"},
            {"name": "prediction", "source": "output:label"},
        ]
    )
    assert column_names(named) == ["height", "x1", "weight"]


def test_pasted_rows_skip_a_header_and_name_the_bad_line() -> None:
    assert parse_rows("a,b,c\n1,2,3\n\n4;5;6\n7 8 9", 3) == [
        [1.0, 2.0, 3.0],
        [4.0, 5.0, 6.0],
        [7.0, 8.0, 9.0],
    ]
    with pytest.raises(RowsError, match="line 2 has 2 values; the model takes 3"):
        parse_rows("1,2,3\n1,2", 3)
    with pytest.raises(RowsError, match="line 2 holds something that is not a number"):
        parse_rows("1,2,3\n1,x,3", 3)


def test_timestamps_are_shown_whole_in_utc() -> None:
    assert timestamp("2026-12-06T21:15:42.123+01:00") == "2026-12-06 20:15:42 UTC"
    assert timestamp("2026-12-06T21:15:42") == "2026-12-06 21:15:42 UTC"
    assert timestamp(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == "2026-01-02 03:04:05 UTC"
    assert timestamp("last week") == "last week"
    assert timestamp(None) == "—"
