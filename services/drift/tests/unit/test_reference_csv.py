"""Reading a reference CSV: the columns and values a check needs, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops_common.features import FEATURE_NAMES
from mlops_drift.columns import MonitoredColumns
from mlops_drift.reference import ReferenceError, read_reference_csv

DIGITS = MonitoredColumns(tuple(FEATURE_NAMES), tuple(range(64)), "prediction", "confidence")


def test_reads_a_good_reference(reference_csv: Path) -> None:
    table = read_reference_csv(reference_csv)
    assert len(table) > 100
    assert {"pixel_7_7", "label", "prediction", "confidence"} <= set(table.columns)


def test_missing_feature_columns_are_named(tmp_path: Path, reference_csv: Path) -> None:
    path = tmp_path / "bad.csv"
    table = pd.read_csv(reference_csv).drop(columns=["pixel_0_0", "pixel_0_1"])
    table.to_csv(path, index=False)
    with pytest.raises(ReferenceError, match=r"lacks 2 monitored column.*pixel_0_0"):
        read_reference_csv(path, DIGITS)


def test_missing_output_columns_are_allowed(tmp_path: Path, reference_csv: Path) -> None:
    """An imported model's reference may hold only its inputs (and label)."""
    path = tmp_path / "inputs.csv"
    pd.read_csv(reference_csv).drop(columns=["prediction", "confidence"]).to_csv(path, index=False)
    table = read_reference_csv(path, DIGITS)
    assert "confidence" not in table.columns
    assert len(table.columns) == 65


def test_non_numeric_cells_are_refused(tmp_path: Path, reference_csv: Path) -> None:
    path = tmp_path / "bad.csv"
    table = pd.read_csv(reference_csv)
    table["pixel_3_3"] = table["pixel_3_3"].astype(object)
    table.loc[0, "pixel_3_3"] = "ink"
    table.to_csv(path, index=False)
    with pytest.raises(ReferenceError, match="non-numeric"):
        read_reference_csv(path)


def test_unreadable_or_empty_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ReferenceError, match="cannot read"):
        read_reference_csv(empty)
    with pytest.raises(ReferenceError, match="cannot read"):
        read_reference_csv(tmp_path / "absent.csv")
