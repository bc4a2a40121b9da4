"""Settings from the environment and the Streamlit command line built from them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops_frontend.launch import APP_PATH, streamlit_command
from mlops_frontend.settings import FrontendSettings


def test_settings_read_the_frontend_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTEND_GATEWAY_URL", "http://gateway:8080/")
    monkeypatch.setenv("FRONTEND_ADMIN_API_KEY", "k" * 20)
    monkeypatch.setenv("FRONTEND_PORT", "9000")
    settings = FrontendSettings()
    assert settings.gateway_url == "http://gateway:8080"
    assert settings.admin_api_key.get_secret_value() == "k" * 20
    assert "k" * 20 not in repr(settings)
    assert settings.port == 9000
    assert settings.max_text_chars == 20_000  # the gateway's GATEWAY_MAX_TEXT_CHARS default


@pytest.mark.parametrize("url", ["gateway:8080", "ftp://gateway", ""])
def test_settings_refuse_a_gateway_url_that_is_not_http(url: str) -> None:
    with pytest.raises(ValidationError):
        FrontendSettings(gateway_url=url)


def test_streamlit_command_is_headless_on_the_configured_port() -> None:
    command = streamlit_command(FrontendSettings(port=8600, host="127.0.0.1"), python="py")
    assert command[:4] == ["py", "-m", "streamlit", "run"]
    assert command[4] == str(APP_PATH)
    assert APP_PATH.is_file()
    assert "--server.port=8600" in command
    assert "--server.address=127.0.0.1" in command
    assert "--server.headless=true" in command
    assert "--browser.gatherUsageStats=false" in command
