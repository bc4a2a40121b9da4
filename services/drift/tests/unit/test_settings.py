"""Settings: DRIFT_ prefix, shared names without it, a window that can hold a verdict."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops_drift.settings import DriftSettings


def test_reads_prefixed_and_shared_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_PORT", "9123")
    monkeypatch.setenv("DRIFT_MIN_WINDOW_SIZE", "300")
    monkeypatch.setenv("DRIFT_FEATURE_SHARE", "0.2")
    monkeypatch.setenv("REDIS_URL", "redis://example:1/2")
    settings = DriftSettings()
    assert settings.port == 9123
    assert settings.min_window_size == 300
    assert settings.redis_url == "redis://example:1/2"
    assert settings.detector_config().feature_share == 0.2


def test_defaults_match_the_contract() -> None:
    settings = DriftSettings()
    assert settings.port == 8090
    assert settings.model_name == "digits-classifier"
    assert settings.min_window_size <= settings.window_size


def test_minimum_above_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="exceeds window_size"):
        DriftSettings(window_size=100, min_window_size=200)


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValidationError):
        DriftSettings(feature_threshold=0)


def test_models_default_to_the_one_model_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DriftSettings().monitored_models() == ("digits-classifier",)
    monkeypatch.setenv("DRIFT_MODEL_NAME", "other")
    assert DriftSettings().monitored_models() == ("other",)


def test_models_are_read_from_drift_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_MODELS", " digits-classifier, iris=models:/iris@staging ,news ")
    assert DriftSettings().monitored_models() == ("digits-classifier", "iris", "news")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("digits-classifier,,news", "entry 2"),
        ("digits-classifier,digits-classifier", "more than once"),
        ("bad name", "entry 1"),
    ],
)
def test_bad_model_lists_are_refused(value: str, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        DriftSettings(models=value)
