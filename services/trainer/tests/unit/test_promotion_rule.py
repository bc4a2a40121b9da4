"""The promotion rule, both ways."""

from __future__ import annotations

import pytest

from mlops_common.promotion import should_promote
from mlops_trainer.registry import is_local_store


@pytest.mark.parametrize(
    ("candidate", "production", "margin", "expected"),
    [
        (0.90, None, 0.0, True),  # nothing in production yet
        (0.99, 0.98, 0.0, True),  # better
        (0.98, 0.98, 0.0, True),  # as good
        (0.97, 0.98, 0.0, False),  # worse
        (0.985, 0.98, 0.01, False),  # better, but not by the margin
        (0.975, 0.98, -0.01, True),  # a negative margin tolerates a small loss
    ],
)
def test_should_promote(
    candidate: float, production: float | None, margin: float, expected: bool
) -> None:
    assert should_promote(candidate, production, margin) is expected


def test_local_stores_are_told_apart_from_servers() -> None:
    assert is_local_store("sqlite:////tmp/x/mlflow.db")
    assert is_local_store("file:///tmp/mlruns")
    assert not is_local_store("http://mlflow:5000")
