"""The model spec: a good spec round-trips through JSON; each bad field is refused by name."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_common.model_spec import (
    MODEL_SPEC_ARTIFACT,
    ModelSpec,
    ModelSpecError,
    load_spec,
    parse_spec,
)

pytestmark = pytest.mark.unit


def _good() -> dict[str, Any]:
    return {
        "name": "iris-classifier",
        "task": "iris",
        "input": {
            "kind": "features",
            "tensor": "input",
            "datatype": "FP32",
            "shape": [-1, 4],
            "range": [0, 10],
        },
        "output": {"tensor": "probabilities", "classes": ["setosa", "versicolor", "virginica"]},
        "monitored": [
            *({"name": f"f{i}", "source": f"input:{i}"} for i in range(4)),
            {"name": "prediction", "source": "output:label"},
            {"name": "confidence", "source": "output:confidence"},
        ],
        "preprocessing": "identity@1",
        "trainable": False,
    }


def test_a_good_spec_round_trips_through_json(tmp_path: Path) -> None:
    spec = parse_spec(_good())
    assert MODEL_SPEC_ARTIFACT == "model-spec.json"
    assert spec.input.width == 4
    assert spec.input.range == (0.0, 10.0)
    assert spec.classes == ["setosa", "versicolor", "virginica"]
    assert spec.monitored_names == ["f0", "f1", "f2", "f3", "prediction", "confidence"]
    assert [c.input_index for c in spec.monitored] == [0, 1, 2, 3, None, None]
    text = spec.to_json()
    assert load_spec(text) == spec
    assert load_spec(text.encode()) == spec
    path = tmp_path / MODEL_SPEC_ARTIFACT
    path.write_text(text)
    assert load_spec(path) == spec
    assert load_spec(str(path)) == spec


def test_range_is_optional_and_left_out_of_the_json() -> None:
    data = _good()
    del data["input"]["range"]
    spec = parse_spec(data)
    assert spec.input.range is None
    assert "range" not in json.loads(spec.to_json())["input"]


def test_a_text_input_takes_bytes_and_any_shape() -> None:
    data = _good()
    data["input"] = {"kind": "text", "tensor": "text", "datatype": "BYTES", "shape": [-1, 1]}
    data["monitored"] = data["monitored"][-2:]
    spec = parse_spec(data)
    assert spec.input.width is None


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DROP:
            del target[last]
        else:
            target[last] = value

    return mutate


_DROP = object()

BAD: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "name with a slash": (_set("name", "a/b"), "name", "not a valid model name"),
    "empty task": (_set("task", ""), "task", "not a valid task name"),
    "unknown kind": (_set("input.kind", "audio"), "input.kind", "'features', 'image' or 'text'"),
    "empty tensor": (_set("input.tensor", ""), "input.tensor", "at least 1 character"),
    "unknown datatype": (_set("input.datatype", "FLOAT"), "input.datatype", "FP32"),
    "bytes features": (_set("input.datatype", "BYTES"), "input.datatype", "numeric"),
    "empty shape": (_set("input.shape", []), "input.shape", "at least 1 item"),
    "zero dimension": (_set("input.shape", [-1, 0]), "input.shape", "dimension 1 is 0"),
    "shape of strings": (_set("input.shape", [-1, "4"]), "input.shape.1", "valid integer"),
    "3-d features": (_set("input.shape", [-1, 2, 2]), "input.shape", "[batch, width]"),
    "any-width features": (_set("input.shape", [-1, -1]), "input.shape", "must be fixed"),
    "reversed range": (_set("input.range", [16, 0]), "input.range", "low < high"),
    "infinite range": (_set("input.range", [0, float("inf")]), "input.range", "finite"),
    "range of three": (_set("input.range", [0, 1, 2]), "input.range", "at most 2"),
    "one class": (_set("output.classes", ["a"]), "output.classes", "at least 2 classes"),
    "repeated class": (_set("output.classes", ["a", "b", "a"]), "output.classes", "'a'"),
    "empty class name": (_set("output.classes", ["a", ""]), "output.classes.1", "1 character"),
    "no output tensor": (_set("output.tensor", _DROP), "output.tensor", "Field required"),
    "repeated monitored name": (_set("monitored.1.name", "f0"), "monitored.1.name", "'f0'"),
    "unknown source": (_set("monitored.0.source", "pixel:0"), "monitored.0.source", "input:"),
    "negative index": (_set("monitored.0.source", "input:-1"), "monitored.0.source", "unknown"),
    "index past width": (_set("monitored.0.source", "input:4"), "monitored.0.source", "past"),
    "no version": (_set("preprocessing", "identity"), "preprocessing", "<id>@<version>"),
    "string trainable": (_set("trainable", "yes"), "trainable", "valid boolean"),
    "missing trainable": (_set("trainable", _DROP), "trainable", "Field required"),
    "extra field": (_set("owner", "me"), "owner", "Extra inputs"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_field_is_refused_by_name(case: str) -> None:
    mutate, field, words = BAD[case]
    data = copy.deepcopy(_good())
    mutate(data)
    with pytest.raises(ModelSpecError) as caught:
        parse_spec(data)
    message = str(caught.value)
    assert f"{field}: " in message, message
    assert words in message, message


def test_text_inputs_have_no_range_and_no_columns() -> None:
    data = _good()
    data["input"] = {
        "kind": "text",
        "tensor": "text",
        "datatype": "BYTES",
        "shape": [-1],
        "range": [0, 1],
    }
    with pytest.raises(ModelSpecError, match=r"input\.range: a text input has no value range"):
        parse_spec(data)
    del data["input"]["range"]
    with pytest.raises(ModelSpecError, match=r"monitored\.0\.source: a text input has no col"):
        parse_spec(data)


def test_malformed_files_raise_one_error_type(tmp_path: Path) -> None:
    with pytest.raises(ModelSpecError, match="cannot read the model spec"):
        load_spec(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ModelSpecError, match="is not valid JSON"):
        load_spec(tmp_path / "bad.json")
    with pytest.raises(ModelSpecError, match="is a JSON object, not list"):
        load_spec(b"[1, 2]")
    with pytest.raises(ModelSpecError, match="name: Field required"):
        load_spec("{}")


def test_a_spec_is_immutable() -> None:
    spec = parse_spec(_good())
    with pytest.raises(ValueError, match="frozen"):
        spec.trainable = True  # type: ignore[misc]
    assert isinstance(spec, ModelSpec)
