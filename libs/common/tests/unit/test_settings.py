"""The settings base: per-service prefix, shared names without prefix, nothing read at import."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mlops_common.settings import ServiceSettings, service_config


class DemoSettings(ServiceSettings):
    model_config = service_config("DEMO_")

    port: int = 1234


def test_prefixed_and_shared_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PORT", "9999")
    monkeypatch.setenv("PORT", "1")
    monkeypatch.setenv("REDIS_URL", "redis://example:6380/2")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    settings = DemoSettings()
    assert settings.port == 9999
    assert settings.redis_url == "redis://example:6380/2"
    assert settings.log_level == "DEBUG"
    assert settings.tracking_uri == "http://mlflow:5000"


def test_environment_is_read_when_built_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    first = DemoSettings()
    monkeypatch.setenv("DEMO_PORT", "4321")
    assert first.port == 1234
    assert DemoSettings().port == 4321


def test_explicit_values_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://env:1/0")
    settings = DemoSettings(port=0, redis_url="redis://test:2/0")
    assert (settings.port, settings.redis_url) == (0, "redis://test:2/0")


def test_default_tracking_uri_is_sqlite_under_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = DemoSettings(state_dir=tmp_path)
    assert settings.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow/mlflow.db"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError, match="LOG_LEVEL"):
        DemoSettings()


@pytest.mark.parametrize(
    ("value", "disabled"), [("true", True), (" TRUE ", True), ("", False), ("1", False)]
)
def test_otel_sdk_disabled_only_by_true(
    value: str, disabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", value)
    assert DemoSettings().otel_sdk_disabled is disabled
