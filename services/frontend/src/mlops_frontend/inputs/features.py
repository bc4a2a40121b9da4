"""Features input: a table with one row per instance and one column per value, named from the
spec's monitored ``input:<i>`` columns (else ``x0``…), bounded by ``input.range``; rows can
also be pasted as CSV. Sends ``{"instances": rows}``."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st

from mlops_common.model_spec import ModelSpec
from mlops_frontend import results, ui
from mlops_frontend.api import ServedModel

MAX_ROWS = 100


class RowsError(ValueError):
    """Pasted rows that cannot be read; the message names the row."""


def column_names(spec: ModelSpec) -> list[str]:
    """One name per input value: the monitored column's name reading it, else ``x<i>``."""
    width = spec.input.width or 0
    names = [f"x{index}" for index in range(width)]
    for column in spec.monitored:
        index = column.input_index
        if index is not None and index < width:
            names[index] = column.name
    return names


def parse_rows(text: str, width: int) -> list[list[float]]:
    """Rows of ``width`` numbers from CSV text (commas, semicolons or blanks; a first line that
    is not numbers is a header)."""
    rows: list[list[float]] = []
    for number, line in enumerate(text.strip().splitlines(), start=1):
        cells = [cell for cell in line.replace(";", ",").replace(",", " ").split() if cell]
        if not cells:
            continue
        try:
            values = [float(cell) for cell in cells]
        except ValueError:
            if number == 1:
                continue  # a header
            raise RowsError(f"line {number} holds something that is not a number") from None
        if len(values) != width:
            raise RowsError(f"line {number} has {len(values)} values; the model takes {width}")
        rows.append(values)
    if len(rows) > MAX_ROWS:
        raise RowsError(f"{len(rows)} rows; paste at most {MAX_ROWS}")
    return rows


def _start_value(spec: ModelSpec) -> float:
    """The value a new cell starts at: 0, moved into the input's range."""
    if spec.input.range is None:
        return 0.0
    low, high = spec.input.range
    return min(max(0.0, low), high)


def _pasted(spec: ModelSpec, names: list[str]) -> list[list[float]] | None:
    with st.expander("Paste rows (CSV)"):
        text = st.text_area(
            "One instance a line, values separated by commas",
            placeholder=",".join(names),
            key=f"features_csv_{spec.name}",
        )
    if not text.strip():
        return None
    try:
        return parse_rows(text, len(names))
    except RowsError as exc:
        st.error(f"**These rows cannot be used**: {exc}", icon=":material/table:")
        st.stop()


def _editor(spec: ModelSpec, names: list[str], rows: list[list[float]] | None) -> pd.DataFrame:
    start = rows or [[_start_value(spec)] * len(names)]
    low, high = spec.input.range or (None, None)
    seed = hashlib.sha256(json.dumps(start).encode()).hexdigest()[:12]
    column = st.column_config.NumberColumn(min_value=low, max_value=high, required=True)
    edited: pd.DataFrame = st.data_editor(
        pd.DataFrame(start, columns=names),
        num_rows="dynamic",
        width="stretch",
        column_config=dict.fromkeys(names, column),
        key=f"features_table_{spec.name}_{seed}",
    )
    return edited


def features(model: ServedModel) -> None:
    """Fill the table, predict each row, see the class names, send the true class."""
    spec = model.spec
    assert spec is not None  # nosec B101: the page only calls this for a features spec; narrows the type for mypy
    names = column_names(spec)
    if not names:
        st.warning(f"The spec of `{model.name}` gives no fixed width: {spec.input.shape}.")
        return
    bounds = f" in {spec.input.range[0]:g}…{spec.input.range[1]:g}" if spec.input.range else ""
    st.caption(f"{len(names)} numbers{bounds} per instance; one row per instance.")
    table = _editor(spec, names, _pasted(spec, names))
    complete = table.dropna()
    if complete.empty:
        st.info("Add a row to start.")
        results.forget()
        return
    if len(complete) < len(table):
        st.warning(f"{len(table) - len(complete)} row(s) with an empty cell are left out.")
    rows = complete.astype(float).values.tolist()
    digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
    answer = results.predict_button(
        model, digest, lambda: ui.client().predict_instances(model.name, rows)
    )
    if answer is not None:
        classes = results.classes_of(model, answer)
        results.show(answer, classes)
        results.feedback(answer, classes)
