"""``make up``'s ports (scripts/stack_ports.py): an internal part whose default port is taken
moves to a free one; a port people open, or one the user set, fails with what to change."""

from __future__ import annotations

import dataclasses
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402
import stack_ports  # noqa: E402

pytestmark = pytest.mark.unit


def _loopback(_: str) -> str:
    return "127.0.0.1"


def _taken(*ports: int):  # type: ignore[no-untyped-def]
    return lambda _address, port: port not in ports


def test_a_taken_internal_default_moves_to_a_free_port_and_says_so() -> None:
    requested, explicit = stack_ports.requested_ports({})
    choice = stack_ports.choose_ports(
        requested, explicit, _loopback, free=_taken(6379, 5000), pick=lambda _: 40001
    )
    assert choice.ports["REDIS_PORT"] == choice.ports["MLFLOW_PORT"] == 40001
    assert choice.ports["GATEWAY_PORT"] == 8080
    assert choice.moved == (
        "port 5000 (MLFLOW_PORT) is taken; MLflow uses 127.0.0.1:40001 (set MLFLOW_PORT to choose)",
        "port 6379 (REDIS_PORT) is taken; Redis uses 127.0.0.1:40001 (set REDIS_PORT to choose)",
    )


@pytest.mark.parametrize(
    ("environ", "taken", "variable"),
    [
        ({}, 8080, "GATEWAY_PORT"),  # people open it: never moved
        ({}, 8501, "FRONTEND_PORT"),
        ({"REDIS_PORT": "6380"}, 6380, "REDIS_PORT"),  # the user asked for that one
    ],
)
def test_a_public_or_explicit_port_that_is_taken_fails_with_its_variable(
    environ: dict[str, str], taken: int, variable: str
) -> None:
    requested, explicit = stack_ports.requested_ports(environ)
    with pytest.raises(stack_ports.PortError, match=rf"port {taken} \({variable}\)"):
        stack_ports.choose_ports(requested, explicit, _loopback, free=_taken(taken))


@pytest.mark.parametrize("value", ["http", "0", "70000"])
def test_a_port_that_is_no_port_is_refused(value: str) -> None:
    with pytest.raises(stack_ports.PortError, match="REDIS_PORT"):
        stack_ports.requested_ports({"REDIS_PORT": value})


def test_a_real_listener_on_the_redis_default_is_stepped_around(tmp_path: Path) -> None:
    """As on a Debian machine whose system Redis holds 6379: the stack takes another port."""
    free = {name: str(stack_ports.any_free_port("127.0.0.1")) for name in stack_ports.PUBLIC_PORTS}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        config = stack.StackConfig.from_env({"MLOPS_STATE_DIR": str(tmp_path), **free})
        # REDIS_PORT left unset, its default held by another server
        config = dataclasses.replace(config, ports={**config.ports, "REDIS_PORT": busy})
        moved_config, moved = config.with_free_ports()
    assert moved_config.ports["REDIS_PORT"] != busy
    assert (
        f"port {busy} (REDIS_PORT) is taken; Redis uses "
        f"127.0.0.1:{moved_config.ports['REDIS_PORT']} (set REDIS_PORT to choose)"
    ) in moved
    assert moved_config.environment({})["REDIS_URL"].endswith(
        f":{moved_config.ports['REDIS_PORT']}/0"
    )
