"""``make up`` (scripts/stack.py): where each process listens and which keys it is handed.

Everything listens on loopback; ``MLOPS_BIND_ADDRESS`` opens the gateway and the frontend only,
and then the frontend gets no admin key (the person types it on the page). The end-to-end check
of the listening sockets of a running stack is ``tests/e2e/test_security.py``.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402

HOSTS = ("GATEWAY_HOST", "FRONTEND_HOST", "INFERENCE_HOST", "DRIFT_HOST")
INTERNAL_HOSTS = ("INFERENCE_HOST", "DRIFT_HOST", "TRAINER_WORKER_METRICS_HOST")


def _config(tmp_path: Path, **env: str) -> stack.StackConfig:
    return stack.StackConfig.from_env({"MLOPS_STATE_DIR": str(tmp_path / "state"), **env})


def test_by_default_every_process_listens_on_loopback(tmp_path: Path) -> None:
    config = _config(tmp_path)
    env = config.environment({}, ["digits-classifier"])
    assert not config.open_to_network
    assert {env[name] for name in (*HOSTS, *INTERNAL_HOSTS)} == {"127.0.0.1"}
    assert env["FRONTEND_ADMIN_API_KEY"] == env["GATEWAY_ADMIN_API_KEYS"] == config.admin_key
    assert "127.0.0.1 only" in stack.listening_note(config)
    assert "MLOPS_BIND_ADDRESS=0.0.0.0" in stack.listening_note(config)


def test_the_keys_are_made_once_and_readable_by_the_owner_only(tmp_path: Path) -> None:
    first = _config(tmp_path)
    again = _config(tmp_path)
    assert (first.admin_key, first.drift_key) == (again.admin_key, again.drift_key)
    assert first.admin_key != first.drift_key
    assert len(first.drift_key) >= 24
    for name in ("admin-api-key", "drift-api-key"):
        mode = (tmp_path / "state" / name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600, name
    env = first.environment({})
    assert env["GATEWAY_DRIFT_API_KEY"] == env["DRIFT_ADMIN_API_KEYS"] == first.drift_key


def test_the_bind_address_opens_the_gateway_and_the_frontend_only(tmp_path: Path) -> None:
    config = _config(tmp_path, MLOPS_BIND_ADDRESS="0.0.0.0")
    env = config.environment({"FRONTEND_ADMIN_API_KEY": "the-users-own-key"})
    assert config.open_to_network
    assert env["GATEWAY_HOST"] == env["FRONTEND_HOST"] == "0.0.0.0"
    assert {env[name] for name in INTERNAL_HOSTS} == {"127.0.0.1"}
    assert "FRONTEND_ADMIN_API_KEY" not in env  # not even the user's: the page asks for it
    note = stack.listening_note(config)
    assert "0.0.0.0" in note
    assert "asks for the admin key" in note
    assert config.bind_of("REDIS_PORT") == config.bind_of("MLFLOW_PORT") == "127.0.0.1"


def test_a_bind_address_that_is_no_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(stack.StackError, match="MLOPS_BIND_ADDRESS='my laptop'"):
        _config(tmp_path, MLOPS_BIND_ADDRESS="my laptop")


def test_the_frontend_accepts_what_the_open_stack_hands_it(tmp_path: Path) -> None:
    """Opened, the stack's frontend settings validate (no configured key on 0.0.0.0)."""
    from mlops_frontend.settings import FrontendSettings

    env = _config(tmp_path, MLOPS_BIND_ADDRESS="0.0.0.0").environment({})
    settings = FrontendSettings(
        host=env["FRONTEND_HOST"], admin_api_key=env.get("FRONTEND_ADMIN_API_KEY", "")
    )
    assert settings.admin_api_key.get_secret_value() == ""
