"""The local stack's ports: the documented defaults, a free one for an internal part whose
default is taken, and a loud failure for a port a person opens or one set explicitly.

Redis, MLflow, inference (gRPC and metrics), drift and the worker's metrics are reached only by
the stack itself, which passes their addresses to every process: when the default is taken (a
system Redis on 6379, AirPlay on 5000 on a Mac) another free port does as well, and the launcher
says which. The gateway and the frontend are what people open, and a port given in the
environment is what its user asked for: those fail with the variable to change.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

DEFAULT_PORTS = {
    "GATEWAY_PORT": 8080,
    "INFERENCE_PORT": 8001,
    "INFERENCE_METRICS_PORT": 8002,
    "DRIFT_PORT": 8090,
    "FRONTEND_PORT": 8501,
    "MLFLOW_PORT": 5000,
    "REDIS_PORT": 6379,
    "TRAINER_WORKER_METRICS_PORT": 8091,
}
#: The ports a person opens: never moved, and the only ones MLOPS_BIND_ADDRESS applies to.
PUBLIC_PORTS = ("GATEWAY_PORT", "FRONTEND_PORT")
#: What each internal port serves, for the launcher's note when it moves one.
SERVES = {
    "INFERENCE_PORT": "inference gRPC",
    "INFERENCE_METRICS_PORT": "inference metrics",
    "DRIFT_PORT": "drift",
    "MLFLOW_PORT": "MLflow",
    "REDIS_PORT": "Redis",
    "TRAINER_WORKER_METRICS_PORT": "worker metrics",
}


class PortError(ValueError):
    """A port cannot be used; the message names the variable to change."""


@dataclass(frozen=True)
class PortChoice:
    """The ports of one start, and a line for each internal one moved off its default."""

    ports: dict[str, int]
    moved: tuple[str, ...] = ()


def is_free(address: str, port: int) -> bool:
    """True when ``address:port`` can be bound now (by a server that sets SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def any_free_port(address: str) -> int:
    """A port the kernel says is free on ``address`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def requested_ports(environ: Mapping[str, str]) -> tuple[dict[str, int], frozenset[str]]:
    """Each port from the environment or its default, and the names the environment set."""
    ports: dict[str, int] = {}
    for name, default in DEFAULT_PORTS.items():
        given = environ.get(name)
        try:
            port = int(given) if given else default
        except ValueError:
            raise PortError(f"{name}={given!r} is not a port number") from None
        if not 0 < port < 65536:
            raise PortError(f"{name}={port} is not a port number (1-65535)")
        ports[name] = port
    return ports, frozenset(name for name in DEFAULT_PORTS if environ.get(name))


def choose_ports(
    requested: Mapping[str, int],
    explicit: frozenset[str],
    bind_of: Callable[[str], str],
    free: Callable[[str, int], bool] = is_free,
    pick: Callable[[str], int] = any_free_port,
) -> PortChoice:
    """The requested ports, except that an internal one left at its default and taken is
    replaced by a free port. Raises :class:`PortError` naming every port that cannot be used."""
    ports: dict[str, int] = {}
    moved: list[str] = []
    taken: list[str] = []
    for name, port in requested.items():
        address = bind_of(name)
        if free(address, port):
            ports[name] = port
        elif name in explicit or name in PUBLIC_PORTS:
            taken.append(f"  port {port} ({name}) is already in use: set {name}=<free port>")
        else:
            ports[name] = pick(address)
            moved.append(
                f"port {port} ({name}) is taken; {SERVES[name]} uses {address}:{ports[name]} "
                f"(set {name} to choose)"
            )
    if taken:
        raise PortError("cannot start the stack:\n" + "\n".join(taken))
    return PortChoice(ports, tuple(moved))
