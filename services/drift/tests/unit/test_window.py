"""The sliding window: bounded by size and by age, snapshot in the reference layout."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_common.features import FEATURE_NAMES
from mlops_common.model_spec import parse_spec
from mlops_common.redis_keys import TrafficEntry
from mlops_drift.columns import MonitoredColumns
from mlops_drift.window import SlidingWindow

DIGITS = MonitoredColumns(tuple(FEATURE_NAMES), tuple(range(64)), "prediction", "confidence")


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def entry(
    ts: float, label: int = 3, confidence: float = 0.9, features: np.ndarray | None = None
) -> TrafficEntry:
    return TrafficEntry(
        id=f"id-{ts}",
        request_id="r",
        model_version="1",
        features=np.full(64, ts % 16, dtype=np.float32) if features is None else features,
        label=label,
        confidence=confidence,
        latency_ms=1.0,
        timestamp=ts,
    )


def test_keeps_only_the_newest_rows() -> None:
    clock = Clock()
    window = SlidingWindow(max_size=3, max_age_s=100, clock=clock)
    window.add(entry(clock.now - 5 + i) for i in range(5))
    assert len(window) == 3
    assert window.added_total == 5
    assert window.snapshot(DIGITS)["pixel_0_0"].tolist() == [
        (clock.now - 3 + i) % 16 for i in range(3)
    ]


def test_rows_older_than_the_age_limit_leave() -> None:
    clock = Clock()
    window = SlidingWindow(max_size=10, max_age_s=60, clock=clock)
    window.add([entry(clock.now - 90), entry(clock.now - 30), entry(clock.now)])
    assert len(window) == 2
    clock.now += 45
    assert len(window) == 1
    clock.now += 100
    assert len(window) == 0


def test_snapshot_has_the_reference_columns() -> None:
    clock = Clock()
    window = SlidingWindow(max_size=10, max_age_s=60, clock=clock)
    window.add([entry(clock.now, label=7, confidence=0.25)])
    table = window.snapshot(DIGITS)
    assert list(table.columns) == [*FEATURE_NAMES, "prediction", "confidence"]
    assert table["prediction"].tolist() == [7]
    assert table["confidence"].tolist() == [0.25]
    window.clear()
    assert window.snapshot(DIGITS).shape == (0, 66)


def test_snapshot_takes_the_specs_columns_from_their_sources() -> None:
    spec = parse_spec(
        {
            "name": "flowers",
            "task": "flowers",
            "input": {"kind": "features", "tensor": "x", "datatype": "FP32", "shape": [-1, 4]},
            "output": {"tensor": "p", "classes": ["a", "b", "c"]},
            "monitored": [
                {"name": "pred", "source": "output:label"},
                {"name": "petal_width", "source": "input:3"},
                {"name": "sepal_length", "source": "input:0"},
                {"name": "conf", "source": "output:confidence"},
            ],
            "preprocessing": "identity@1",
            "trainable": False,
        }
    )
    columns = MonitoredColumns.from_spec(spec)
    assert columns.names == ["petal_width", "sepal_length", "pred", "conf"]
    clock = Clock()
    window = SlidingWindow(max_size=10, max_age_s=60, clock=clock)
    values = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    window.add([entry(clock.now, 2, 0.5, values), entry(clock.now, 1, 0.5, values[:2])])
    table = window.snapshot(columns)  # the 2-value entry cannot fill input:3: left out
    assert table.to_dict("records") == [
        {"petal_width": 4.0, "sepal_length": 1.0, "pred": 2, "conf": 0.5}
    ]


@pytest.mark.parametrize(("size", "age"), [(0, 10.0), (5, 0.0), (5, -1.0)])
def test_rejects_bad_limits(size: int, age: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        SlidingWindow(max_size=size, max_age_s=age)
