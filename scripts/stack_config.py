"""The configuration of one local stack (``make up``): ports, listening address, state folder
and keys, and the environment every process of the ``Procfile`` gets from them.

Ports come from ``stack_ports`` (an internal part whose default port is taken moves to a free
one); the keys are made once under the state folder, readable by the owner only.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from stack_ports import PUBLIC_PORTS, PortError, choose_ports, requested_ports
from stack_registry import DEFAULT_MODEL, PRODUCTION

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


class StackError(RuntimeError):
    """The stack cannot start; the message says what to do."""


def _secret(state: Path, name: str) -> str:
    """The key kept in ``state/name`` (made, readable by the owner only, when missing)."""
    path = state / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _bind_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise StackError(
            f"MLOPS_BIND_ADDRESS={value!r} is not an IP address (127.0.0.1: this machine only; "
            "0.0.0.0: every interface)"
        ) from None


@dataclass(frozen=True)
class StackConfig:
    """Ports, listening address, state folder and keys of one local stack."""

    ports: dict[str, int]
    state_dir: Path
    venv_bin: Path
    admin_key: str
    drift_key: str = ""
    bind_address: str = LOOPBACK
    explicit_ports: frozenset[str] = frozenset()

    @property
    def open_to_network(self) -> bool:
        """True when the gateway and the frontend listen beyond loopback."""
        return not ipaddress.ip_address(self.bind_address).is_loopback

    def bind_of(self, port_name: str) -> str:
        """The address the process behind ``port_name`` listens on."""
        return self.bind_address if port_name in PUBLIC_PORTS else LOOPBACK

    @classmethod
    def from_env(cls, environ: dict[str, str]) -> StackConfig:
        """Read ports and the state folder from ``environ`` with the documented defaults."""
        try:
            ports, explicit = requested_ports(environ)
        except PortError as exc:
            raise StackError(str(exc)) from None
        state = Path(environ.get("MLOPS_STATE_DIR", ROOT / ".state")).resolve()
        state.mkdir(parents=True, exist_ok=True)
        return cls(
            ports=ports,
            state_dir=state,
            venv_bin=Path(environ.get("VENV_BIN", ROOT / ".venv" / "bin")).resolve(),
            admin_key=environ.get("GATEWAY_ADMIN_API_KEYS") or _secret(state, "admin-api-key"),
            drift_key=_secret(state, "drift-api-key"),
            bind_address=_bind_address(environ.get("MLOPS_BIND_ADDRESS") or LOOPBACK),
            explicit_ports=explicit,
        )

    def with_free_ports(self) -> tuple[StackConfig, tuple[str, ...]]:
        """This config with its ports checked: internal defaults that are taken move to free
        ports (one line each, to print); a taken public or explicit port is a StackError."""
        try:
            choice = choose_ports(self.ports, self.explicit_ports, self.bind_of)
        except PortError as exc:
            raise StackError(str(exc)) from None
        return replace(self, ports=choice.ports), choice.moved

    def url(self, port_name: str) -> str:
        """``http://127.0.0.1:<port>`` of a named port."""
        return f"http://127.0.0.1:{self.ports[port_name]}"

    @property
    def registry_db(self) -> Path:
        """The MLflow server's SQLite store (the Procfile's ``--backend-store-uri``)."""
        return self.state_dir / "mlflow" / "mlflow.db"

    def environment(self, base: dict[str, str], models: Iterable[str] = ()) -> dict[str, str]:
        """The variables every process of the Procfile gets; ``models`` become INFERENCE_MODELS,
        and drift's DRIFT_MODELS (the same list).

        ``INFERENCE_MODELS`` or ``INFERENCE_MODEL_URI`` already in ``base`` win (one model
        served from ``INFERENCE_MODEL_URI``, as before, and drift watches its default model);
        so does ``DRIFT_MODELS``.
        """
        p = self.ports
        served: dict[str, str] = {}
        if "INFERENCE_MODEL_URI" not in base:
            served["INFERENCE_MODELS"] = base.get("INFERENCE_MODELS") or ",".join(models)
            served["DRIFT_MODELS"] = base.get("DRIFT_MODELS") or served["INFERENCE_MODELS"]
        # Opened to the network, the page must not act with a key of its own: the person types it.
        frontend_key = {} if self.open_to_network else {"FRONTEND_ADMIN_API_KEY": self.admin_key}
        base = {k: v for k, v in base.items() if k != "FRONTEND_ADMIN_API_KEY"}
        return {
            **base,
            **{name: str(port) for name, port in p.items()},
            "VENV_BIN": str(self.venv_bin),
            "MLOPS_STATE_DIR": str(self.state_dir),
            "REDIS_URL": f"redis://127.0.0.1:{p['REDIS_PORT']}/0",
            "MLFLOW_TRACKING_URI": self.url("MLFLOW_PORT"),
            "INFERENCE_MODEL_URI": base.get(
                "INFERENCE_MODEL_URI", f"models:/{DEFAULT_MODEL}@{PRODUCTION}"
            ),
            **served,
            "GATEWAY_INFERENCE_TARGET": f"127.0.0.1:{p['INFERENCE_PORT']}",
            "GATEWAY_DRIFT_URL": self.url("DRIFT_PORT"),
            "GATEWAY_ADMIN_API_KEYS": self.admin_key,
            "GATEWAY_DRIFT_API_KEY": self.drift_key,
            "DRIFT_ADMIN_API_KEYS": self.drift_key,
            "FRONTEND_GATEWAY_URL": self.url("GATEWAY_PORT"),
            **frontend_key,
            "GATEWAY_HOST": self.bind_of("GATEWAY_PORT"),
            "FRONTEND_HOST": self.bind_of("FRONTEND_PORT"),
            "INFERENCE_HOST": LOOPBACK,
            "DRIFT_HOST": LOOPBACK,
            "TRAINER_WORKER_METRICS_HOST": LOOPBACK,
            "PYTHONUNBUFFERED": "1",
        }
