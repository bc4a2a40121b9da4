"""The model spec: what a registered version takes, answers and is monitored on.

Every registered version carries ``model-spec.json`` (:data:`MODEL_SPEC_ARTIFACT`) in its run,
next to its ONNX model. Services read a model's shape from it, never from constants: the
gateway validates requests against ``input``, labels answers with ``output.classes``, drift
monitors ``monitored`` and retraining is offered only when ``trainable``. The trainer writes it
for the tasks it trains; ``mlops-train import`` writes it for an outside ONNX classifier.

Layout (see ``docs/contracts.md``, "Model spec")::

    {"name": "digits-classifier", "task": "digits",
     "input": {"kind": "features", "tensor": "features", "datatype": "FP32",
               "shape": [-1, 64], "range": [0.0, 16.0]},
     "output": {"tensor": "probabilities", "classes": ["0", "1", ...]},
     "monitored": [{"name": "pixel_0_0", "source": "input:0"}, ...,
                   {"name": "prediction", "source": "output:label"},
                   {"name": "confidence", "source": "output:confidence"}],
     "preprocessing": "digits-8x8@1", "trainable": true}

``monitored[].source`` reads:

- ``input:<i>``: value ``i`` (0-based) of one instance's input, flattened row-major after the
  batch dimension (for a ``features`` input: column ``i``);
- ``output:label``: the predicted class's index (argmax of the output);
- ``output:confidence``: the predicted class's probability (max of the output);
- ``output:<tensor>:<i>``: value ``i`` of one instance's row of another output of the graph,
  flattened after the batch dimension (a text model's pooled embedding, its token count...).
  Only a ``text`` input has such columns: its own values are strings, so what drift watches
  comes out of the model.

What a traffic entry logs per instance (its ``features``, :meth:`ModelSpec.logged_position`):
the input's values for a ``features``/``image`` input; for a ``text`` input, the values of its
``output:<tensor>:<i>`` columns in the order ``monitored`` lists them.

A malformed spec is refused with :class:`ModelSpecError`, whose message names the field.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from mlops_common.datatypes import DATATYPES

MODEL_SPEC_ARTIFACT: Final = "model-spec.json"

#: Datatypes a spec may name: the protocol's numeric ones, and ``BYTES`` for text inputs.
SPEC_DATATYPES: Final = frozenset(DATATYPES) | {"BYTES"}

#: ``monitored[].source`` of the predicted class index and of its probability.
SOURCE_LABEL: Final = "output:label"
SOURCE_CONFIDENCE: Final = "output:confidence"
INPUT_SOURCE_PREFIX: Final = "input:"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PREPROCESSING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9._-]*$")
_INPUT_SOURCE = re.compile(r"^input:(0|[1-9][0-9]*)$")
_OUTPUT_VALUE_SOURCE = re.compile(r"^output:([A-Za-z0-9][A-Za-z0-9._/-]*):(0|[1-9][0-9]*)$")

Name = Annotated[str, Field(min_length=1)]


class ModelSpecError(ValueError):
    """A spec that cannot be used; the message names the field (``input.shape: ...``)."""

    code = "invalid_model_spec"


class _FieldError(ValueError):
    """A check across fields that blames one of them (named relative to the checked model)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid {what}: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class InputSpec(_Strict):
    """The model's one input tensor."""

    kind: Literal["features", "image", "text"]
    tensor: Name
    datatype: str
    shape: list[StrictInt] = Field(min_length=1)
    range: tuple[float, float] | None = None

    @field_validator("datatype")
    @classmethod
    def _known_datatype(cls, value: str) -> str:
        if value not in SPEC_DATATYPES:
            raise ValueError(
                f"unknown datatype {value!r}; expected one of {', '.join(sorted(SPEC_DATATYPES))}"
            )
        return value

    @field_validator("shape")
    @classmethod
    def _dimensions(cls, value: list[int]) -> list[int]:
        for index, dim in enumerate(value):
            if dim != -1 and dim < 1:
                raise ValueError(f"dimension {index} is {dim}; use a size >= 1, or -1 for any")
        return value

    @field_validator("range", mode="before")
    @classmethod
    def _range_pair(cls, value: object) -> object:
        if isinstance(value, list):  # JSON has no tuples
            return tuple(value)
        return value

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None:
            low, high = value
            if not (math.isfinite(low) and math.isfinite(high)):
                raise ValueError(f"[{low}, {high}] must hold finite numbers")
            if not low < high:
                raise ValueError(f"[{low}, {high}] needs low < high")
        return value

    @model_validator(mode="after")
    def _kind_fits(self) -> InputSpec:
        if self.kind == "text":
            if self.datatype != "BYTES":
                raise _FieldError("datatype", f"a text input is BYTES, not {self.datatype}")
            if self.range is not None:
                raise _FieldError("range", "a text input has no value range")
            if self.shape not in ([-1], [-1, 1]):
                raise _FieldError(
                    "shape",
                    f"a text input is one string per instance: [-1] or [-1, 1], not {self.shape}",
                )
        elif self.datatype == "BYTES":
            raise _FieldError("datatype", f"a {self.kind} input is numeric, not BYTES")
        if self.kind == "features" and len(self.shape) != 2:
            raise _FieldError(
                "shape",
                f"a features input is [batch, width], got {self.shape} "
                f"({len(self.shape)} dimensions)",
            )
        if self.kind == "features" and self.shape[1] == -1:
            raise _FieldError("shape", "the width of a features input must be fixed, not -1")
        return self

    @property
    def width(self) -> int | None:
        """Values per instance (the product of the dimensions after the batch), None if any."""
        if self.kind == "text" or any(dim == -1 for dim in self.shape[1:]):
            return None
        return math.prod(self.shape[1:])


class OutputSpec(_Strict):
    """The model's probabilities output and the names of its classes, in output order."""

    tensor: Name
    classes: list[Name]

    @field_validator("classes")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(value) < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {len(value)}")
        seen: set[str] = set()
        for name in value:
            if name in seen:
                raise ValueError(f"class {name!r} appears more than once")
            seen.add(name)
        return value


class MonitoredColumn(_Strict):
    """A column drift watches: its name (in traffic and the reference CSV) and its source."""

    name: Name
    source: str

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value in (SOURCE_LABEL, SOURCE_CONFIDENCE) or _INPUT_SOURCE.match(value):
            return value
        if _OUTPUT_VALUE_SOURCE.match(value):
            return value
        raise ValueError(
            f"unknown source {value!r}; expected 'input:<index>', 'output:<tensor>:<index>', "
            f"'{SOURCE_LABEL}' or '{SOURCE_CONFIDENCE}'"
        )

    @property
    def input_index(self) -> int | None:
        """The input position of an ``input:<i>`` source, None for an output source."""
        if self.source.startswith(INPUT_SOURCE_PREFIX):
            return int(self.source.removeprefix(INPUT_SOURCE_PREFIX))
        return None

    @property
    def output_value(self) -> tuple[str, int] | None:
        """``(tensor, index)`` of an ``output:<tensor>:<i>`` source, None for any other."""
        match = _OUTPUT_VALUE_SOURCE.match(self.source)
        return (match.group(1), int(match.group(2))) if match else None


class ModelSpec(_Strict):
    """The spec registered with a model version (see the module docstring)."""

    name: str
    task: str
    input: InputSpec
    output: OutputSpec
    monitored: list[MonitoredColumn] = Field(default_factory=list)
    preprocessing: str
    trainable: StrictBool

    @field_validator("name")
    @classmethod
    def _model_name(cls, value: str) -> str:
        return _check_name(value, "model name")

    @field_validator("task")
    @classmethod
    def _task_name(cls, value: str) -> str:
        return _check_name(value, "task name")

    @field_validator("preprocessing")
    @classmethod
    def _preprocessing_id(cls, value: str) -> str:
        if not _PREPROCESSING.match(value):
            raise ValueError(f"{value!r} is not '<id>@<version>' (e.g. 'digits-8x8@1')")
        return value

    @model_validator(mode="after")
    def _monitored_fit(self) -> ModelSpec:
        seen: set[str] = set()
        width = self.input.width
        for index, column in enumerate(self.monitored):
            if column.name in seen:
                raise _FieldError(
                    f"monitored.{index}.name", f"{column.name!r} appears more than once"
                )
            seen.add(column.name)
            output_value = column.output_value
            if output_value is not None:
                if self.input.kind != "text":
                    raise _FieldError(
                        f"monitored.{index}.source",
                        f"{column.source!r}: only a text input's model is monitored on its "
                        "outputs; monitor a numeric input's own values (input:<i>)",
                    )
                if output_value[0] == self.output.tensor:
                    raise _FieldError(
                        f"monitored.{index}.source",
                        f"{column.source!r} reads the probabilities; monitor "
                        f"{SOURCE_LABEL!r} and {SOURCE_CONFIDENCE!r} instead",
                    )
                continue
            position = column.input_index
            if position is None:
                continue
            if self.input.kind == "text":
                raise _FieldError(
                    f"monitored.{index}.source", f"a text input has no columns ({column.source!r})"
                )
            if width is not None and position >= width:
                raise _FieldError(
                    f"monitored.{index}.source",
                    f"{column.source!r} is past the input's {width} values per instance",
                )
        return self

    @property
    def classes(self) -> list[str]:
        """The class names, in the order of the output's last dimension."""
        return list(self.output.classes)

    @property
    def output_values(self) -> list[tuple[str, int]]:
        """``(tensor, index)`` of every ``output:<tensor>:<i>`` column, in monitored order:
        what a text model's traffic entry logs per instance."""
        return [value for column in self.monitored if (value := column.output_value) is not None]

    @property
    def value_outputs(self) -> list[str]:
        """The output tensors the ``output:<tensor>:<i>`` columns read, each once, in order."""
        return list(dict.fromkeys(tensor for tensor, _ in self.output_values))

    def logged_position(self, column: MonitoredColumn) -> int | None:
        """Where ``column``'s value sits in a traffic entry's logged values (see the module
        docstring), None for ``output:label``/``output:confidence``."""
        if column.input_index is not None:
            return column.input_index
        if column.output_value is None:
            return None
        sources = [c.source for c in self.monitored if c.output_value is not None]
        return sources.index(column.source)

    @property
    def logged_width(self) -> int | None:
        """Values a traffic entry logs per instance (None: a numeric input of unfixed width)."""
        if self.input.kind == "text":
            return len(self.output_values)
        return self.input.width

    @property
    def monitored_names(self) -> list[str]:
        """The monitored columns' names, in order (the reference CSV's and traffic's columns)."""
        return [column.name for column in self.monitored]

    def to_json(self) -> str:
        """The spec as the JSON text of :data:`MODEL_SPEC_ARTIFACT` (no ``range`` when unset)."""
        return self.model_dump_json(indent=2, exclude_none=True) + "\n"


def _field(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "spec"


def _message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        location = [str(part) for part in error["loc"]]
        raised = error.get("ctx", {}).get("error")
        text = str(raised) if isinstance(raised, _FieldError) else str(error["msg"])
        if isinstance(raised, _FieldError):
            location.append(raised.field)
        where = ".".join(location) or "spec"
        parts.append(f"{where}: {text.removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_spec(data: object) -> ModelSpec:
    """Validate a decoded spec (a dict); raise :class:`ModelSpecError` naming the bad field."""
    if not isinstance(data, dict):
        raise ModelSpecError(f"a model spec is a JSON object, not {type(data).__name__}")
    try:
        return ModelSpec.model_validate(data)
    except ValidationError as exc:
        raise ModelSpecError(f"invalid model spec: {_message(exc)}") from exc


def load_spec(source: Path | str | bytes) -> ModelSpec:
    """Load a spec from a file (a :class:`~pathlib.Path`, or a ``str`` not starting with ``{``)
    or from its JSON text (``bytes``, or a ``str`` starting with ``{``).

    Raises:
        ModelSpecError: unreadable file, invalid JSON or a field that fails validation.
    """
    where = "model spec"
    if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith("{")
    ):
        path = Path(source)
        where = str(path)
        try:
            text: str | bytes = path.read_bytes()
        except OSError as exc:
            raise ModelSpecError(f"cannot read the model spec {path}: {exc.strerror}") from exc
    else:
        text = source
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelSpecError(f"{where} is not valid JSON: {exc}") from exc
    return parse_spec(data)
