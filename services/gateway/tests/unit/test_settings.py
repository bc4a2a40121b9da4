"""Settings: env names, admin keys, production mode refusing weak keys."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops_gateway.settings import DEFAULT_ADMIN_KEY, GatewaySettings

STRONG = "k3y-" + "x" * 28


def test_reads_the_contract_names_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "9999")
    monkeypatch.setenv("GATEWAY_INFERENCE_TARGET", "inference:8001")
    monkeypatch.setenv("GATEWAY_DRIFT_URL", "http://drift:8090")
    monkeypatch.setenv("GATEWAY_ADMIN_API_KEYS", f" {STRONG} , other-key ,")
    monkeypatch.setenv("GATEWAY_DRIFT_API_KEY", "drift-" + STRONG)
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/1")
    settings = GatewaySettings()
    assert settings.port == 9999
    assert settings.inference_target == "inference:8001"
    assert settings.drift_url == "http://drift:8090"
    assert [key.get_secret_value() for key in settings.admin_api_keys] == [STRONG, "other-key"]
    assert settings.drift_api_key.get_secret_value() == "drift-" + STRONG
    assert settings.redis_url == "redis://redis:6379/1"
    shown = repr(settings) + str(settings.model_dump())
    assert STRONG not in shown
    assert "other-key" not in shown


def test_development_mode_accepts_the_default_key() -> None:
    settings = GatewaySettings()
    assert [key.get_secret_value() for key in settings.admin_api_keys] == [DEFAULT_ADMIN_KEY]
    assert settings.host == "127.0.0.1"  # nothing reachable from the network unless opened


@pytest.mark.parametrize("keys", ["", DEFAULT_ADMIN_KEY, "short", f"{STRONG},changeme"])
def test_production_refuses_missing_default_or_weak_keys(
    monkeypatch: pytest.MonkeyPatch, keys: str
) -> None:
    monkeypatch.setenv("GATEWAY_PRODUCTION", "true")
    monkeypatch.setenv("GATEWAY_ADMIN_API_KEYS", keys)
    with pytest.raises(ValidationError, match="production mode") as caught:
        GatewaySettings()
    assert STRONG not in str(caught.value)


def test_production_accepts_strong_keys() -> None:
    settings = GatewaySettings(production=True, admin_api_keys=[STRONG])
    assert settings.production


def test_production_without_keys_in_the_environment_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GATEWAY_ADMIN_API_KEYS", raising=False)
    with pytest.raises(ValidationError, match="production mode"):
        GatewaySettings(production=True)


@pytest.mark.parametrize("variable", ["GATEWAY_DEFAULT_MODEL", "GATEWAY_MODEL_NAME"])
def test_the_default_model_reads_its_new_and_its_first_name(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "iris-classifier")
    assert GatewaySettings().model_name == "iris-classifier"
