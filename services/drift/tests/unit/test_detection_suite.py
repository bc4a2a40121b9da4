"""The detection targets, on fewer windows than the benchmark (benchmarks/drift_detection.py)."""

from __future__ import annotations

import pytest
from _drift_simulation import SHIFTS, run_suite


@pytest.mark.slow
def test_detects_every_shift_without_false_alarms(digits) -> None:  # type: ignore[no-untyped-def]
    windows = {"clean": 10, **dict.fromkeys(SHIFTS, 3)}
    rows = {
        row.shift: row
        for row in run_suite(
            digits.reference,
            digits.pool_x,
            digits.pool_y,
            digits.predict,
            window_size=200,
            windows=windows,
            seed=7,
        )
    }
    assert rows["clean"].rate <= 0.05, rows["clean"]
    for name in SHIFTS:
        assert rows[name].rate >= 0.9, rows[name]
