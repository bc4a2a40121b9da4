"""The stack ``make up`` runs is closed to the network and keeps its keys to itself.

1. Every socket any of its processes listens on (Redis, MLflow, inference's gRPC and metrics,
   the gateway, drift, the worker's metrics, the frontend) is bound to ``127.0.0.1``. Redis's
   port is left at its default: where a system Redis holds 6379 (as on Debian after
   ``apt-get install redis-server``), the stack takes another port and says which.
2. Drift's ``POST /v1/drift/check`` answers 401 without a key, 403 with a wrong one and 200 with
   its key; through the gateway the same with the admin key (the gateway relays with its own).
3. With every service logging at DEBUG, neither the admin key, nor drift's key, nor the wrong
   key sent appears in anything the stack printed or wrote under its state folder's logs.
"""

from __future__ import annotations

import ipaddress
import re
import sys
import uuid
from pathlib import Path

import httpx
import psutil
import pytest
from sklearn.datasets import load_digits

from .test_loop import STACK_ENV, poll

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

from stack_control import PORT_NAMES, free_port, run_stack  # noqa: E402
from stack_ports import is_free  # noqa: E402

MOVED = r"stack: port 6379 \(REDIS_PORT\) is taken; Redis uses 127\.0\.0\.1:(\d+)"

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(600)]

ENV = {**STACK_ENV, "LOG_LEVEL": "DEBUG", "DRIFT_CHECK_INTERVAL_S": "3600"}


def _listening(root_pid: int) -> dict[tuple[str, int], str]:
    """``(address, port) → command line`` of every listening TCP socket of the process tree."""
    root = psutil.Process(root_pid)
    found: dict[tuple[str, int], str] = {}
    for process in (root, *root.children(recursive=True)):
        try:
            for conn in process.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found[(conn.laddr.ip, conn.laddr.port)] = " ".join(process.cmdline()[:4])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _ipv4(address: str) -> str:
    """``127.0.0.1`` for ``::ffff:127.0.0.1`` too: gRPC binds IPv4 addresses on a dual-stack
    IPv6 socket, in the IPv4-mapped form (the same address: only this machine reaches it)."""
    mapped = ipaddress.ip_address(address)
    if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped is not None:
        return str(mapped.ipv4_mapped)
    return str(mapped)


def _window_holds(drift_url: str, rows: int) -> bool:
    body = httpx.get(f"{drift_url}/metrics", timeout=5).text
    sizes = [
        float(line.rsplit(maxsplit=1)[1])
        for line in body.splitlines()
        if line.startswith("drift_window_size")
    ]
    return bool(sizes) and max(sizes) >= rows


def test_the_stack_listens_on_loopback_and_never_logs_a_key(
    bootstrapped_state: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    system_redis = not is_free("127.0.0.1", 6379)
    ports = {name: free_port() for name in PORT_NAMES if name != "REDIS_PORT"}
    with run_stack(state, ENV, seed=bootstrapped_state, ports=ports) as stack:
        stack.wait_for_line(r"stack: all healthy", timeout=400)
        assert any("listening on 127.0.0.1 only" in line for line in stack.lines)
        moved = [re.search(MOVED, line) for line in stack.lines]
        taken = [m for m in moved if m]
        if system_redis:  # the default is taken: another port, and the launcher says which
            assert len(taken) == 1, stack.lines[:20]
            stack.ports["REDIS_PORT"] = int(taken[0].group(1))
        else:
            assert not taken
            stack.ports["REDIS_PORT"] = 6379
        print(f"\nsystem Redis on 6379: {system_redis}; the stack's: {stack.ports['REDIS_PORT']}")

        sockets = _listening(stack.proc.pid)
        ports = {port for _, port in sockets}
        assert set(stack.ports.values()) <= ports, (stack.ports, sockets)
        print(
            "\nlistening sockets:\n" + "\n".join(f"  {a}:{p}  {c}" for (a, p), c in sockets.items())
        )
        exposed = {where: cmd for where, cmd in sockets.items() if _ipv4(where[0]) != "127.0.0.1"}
        assert not exposed, f"listening beyond loopback: {exposed}"

        admin = stack.admin_key
        drift_key = (state / "drift-api-key").read_text().strip()
        wrong = f"wrong-key-{uuid.uuid4().hex}"
        rows = load_digits().data.astype(float)[:256]
        gateway = httpx.Client(base_url=stack.url("GATEWAY_PORT"), timeout=60)
        drift = httpx.Client(base_url=stack.url("DRIFT_PORT"), timeout=60)
        with gateway, drift:
            assert gateway.post("/v1/predict", json={"instances": rows.tolist()}).status_code == 200
            poll("the drift window", lambda: _window_holds(stack.url("DRIFT_PORT"), 200), 60)

            sent = {
                "drift, no key": drift.post("/v1/drift/check"),
                "drift, wrong key": drift.post("/v1/drift/check", headers={"X-API-Key": wrong}),
                "drift, the admin key": drift.post("/v1/drift/check", headers={"X-API-Key": admin}),
                "drift, its key": drift.post("/v1/drift/check", headers={"X-API-Key": drift_key}),
                "gateway, no key": gateway.post("/v1/drift/check"),
                "gateway, wrong key": gateway.post("/v1/drift/check", headers={"X-API-Key": wrong}),
                "gateway, admin key": gateway.post("/v1/drift/check", headers={"X-API-Key": admin}),
            }
            statuses = {what: answer.status_code for what, answer in sent.items()}
            print(f"statuses: {statuses}")
            assert statuses == {
                "drift, no key": 401,
                "drift, wrong key": 403,
                "drift, the admin key": 403,  # a person's key is not drift's
                "drift, its key": 200,
                "gateway, no key": 401,
                "gateway, wrong key": 403,
                "gateway, admin key": 200,
            }
            for answer in sent.values():  # no answer carries a key, right or wrong
                for secret in (admin, drift_key, wrong):
                    assert secret not in answer.text

    printed = "".join(stack.lines)
    logs = [path for path in state.rglob("*.log") if path.is_file()]
    written = "\n".join(path.read_text(errors="replace") for path in logs)
    assert len(printed) > 10_000, "DEBUG logging printed next to nothing: nothing was checked"
    for name, secret in (("admin key", admin), ("drift key", drift_key), ("wrong key", wrong)):
        assert secret not in printed, f"the {name} is in the stack's output"
        assert secret not in written, f"the {name} is in a log file under {state}"
    print(f"searched {len(printed):,} characters of output and {len(logs)} log files")
