"""What the pages compute from a model's spec: the features table's columns, pasted rows, a text
model's title and length check, each class's probability, and timestamps shown whole."""

from __future__ import annotations

import datetime as dt

import pytest

from mlops_common.model_spec import ModelSpec
from mlops_frontend.api import PredictedInstance, ServedModel
from mlops_frontend.inputs.features import RowsError, column_names, parse_rows
from mlops_frontend.inputs.text import intro, title, too_long
from mlops_frontend.results import probability_table
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


def text_model(task: str, classes: list[str]) -> ServedModel:
    spec = {
        "name": "m",
        "task": task,
        "input": {"kind": "text", "tensor": "text", "datatype": "BYTES", "shape": [-1]},
        "output": {"tensor": "p", "classes": classes},
        "preprocessing": "raw-text@1",
        "trainable": True,
    }
    return ServedModel.model_validate({"name": "m", "ready": True, "spec": spec})


def test_a_text_models_page_is_titled_news_for_the_news_task() -> None:
    assert title(text_model("news", ["sport", "tech"])) == "News"
    assert intro(text_model("news", ["sport", "tech"])) == (
        "Model `m` classifies news articles into one of: sport, tech."
    )
    assert title(text_model("tickets", ["a", "b"])) == "Classify text"
    many = intro(text_model("tickets", [f"c{i}" for i in range(20)]))
    assert many.endswith("c10, c11 ….")
    assert "classifies text" in many


def test_a_text_over_the_limit_is_refused_with_its_length() -> None:
    assert too_long("x" * 20, 20) is None
    message = too_long("x" * 20_001, 20_000, "article")
    assert message is not None
    assert message.startswith("**This article is too long**: 20,001 characters; the limit is")


def test_the_probability_table_names_each_class_likeliest_first() -> None:
    instance = PredictedInstance.model_validate(
        {"id": "p", "label": "b", "confidence": 0.7, "probabilities": [0.1, 0.7, 0.2]}
    )
    table = probability_table(instance, ["a", "b", "c"])
    assert table.to_dict("list") == {
        "Class": ["b", "c", "a"],
        "Probability": ["70.0%", "20.0%", "10.0%"],
    }
    assert list(probability_table(instance, ["a"])["Class"]) == ["1", "2", "a"]  # unnamed: index
