"""Celery states to the job answer."""

from __future__ import annotations

from mlops_gateway.jobs import _to_status


def test_progress_state_exposes_only_progress_keys() -> None:
    status = _to_status("j", "PROGRESS", {"stage": "train", "epoch": 2, "progress": 0.5, "x": 1})
    assert status.progress == {"stage": "train", "epoch": 2, "progress": 0.5}
    assert status.result is None


def test_success_exposes_the_result() -> None:
    status = _to_status("j", "SUCCESS", {"version": "3", "promoted": True})
    assert status.result == {"version": "3", "promoted": True}


def test_failure_exposes_the_error() -> None:
    status = _to_status("j", "FAILURE", ValueError("bad data"))
    assert status.error == "ValueError: bad data"
    assert status.result is None


def test_pending_has_nothing_yet() -> None:
    status = _to_status("j", "PENDING", None)
    assert (status.progress, status.result, status.error) == (None, None, None)
