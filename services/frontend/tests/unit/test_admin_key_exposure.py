"""A configured admin key never acts for the network: the frontend refuses to start with one on
a non-loopback address unless the operator accepts it, and never echoes the key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from mlops_frontend.settings import FrontendSettings

KEY = "frontend-admin-key-0123456789abcdef"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_a_configured_key_is_fine_on_loopback(host: str) -> None:
    settings = FrontendSettings(host=host, admin_api_key=KEY)
    assert not settings.admin_key_exposed


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "frontend.example"])
def test_a_configured_key_on_the_network_is_refused_without_consent(host: str) -> None:
    with pytest.raises(ValidationError, match="FRONTEND_ALLOW_NETWORK_ADMIN_KEY") as caught:
        FrontendSettings(host=host, admin_api_key=KEY)
    assert KEY not in str(caught.value)
    accepted = FrontendSettings(host=host, admin_api_key=KEY, allow_network_admin_key=True)
    assert accepted.admin_key_exposed
    assert FrontendSettings(host=host).admin_api_key.get_secret_value() == ""  # asks on the page


def test_the_default_listens_on_loopback() -> None:
    assert FrontendSettings().host == "127.0.0.1"


def _frontend(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FRONTEND_")}
    return subprocess.run(
        [sys.executable, "-m", "mlops_frontend"],
        env={**base, **env, "FRONTEND_PORT": "1"},  # never reaches Streamlit in these cases
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_frontend_exits_with_a_clear_message_and_without_the_key() -> None:
    refused = _frontend(FRONTEND_HOST="0.0.0.0", FRONTEND_ADMIN_API_KEY=KEY)
    assert refused.returncode != 0
    assert "frontend: invalid settings" in refused.stderr
    assert "Unset FRONTEND_ADMIN_API_KEY" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert KEY not in refused.stdout + refused.stderr
