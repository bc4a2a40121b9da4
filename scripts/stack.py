"""Run the whole platform locally: ``make up`` (``python scripts/stack.py``).

Checks that Redis is installed and that every port is free, starts every process of the
``Procfile`` under honcho, trains and registers a first model when the registry has no
``production`` version, waits until each service is healthy, prints the URLs and the time to the
first answered prediction, and stops everything on Ctrl-C (or SIGTERM).

Inference serves every registered model that has a ``production`` alias, ``digits-classifier``
first (it is bootstrapped when missing): the launcher reads the aliases from the local registry
once, before the processes start, and passes the names as ``INFERENCE_MODELS``, and the same
list to drift as ``DRIFT_MODELS`` (it watches each one). Set ``INFERENCE_MODELS`` (or
``INFERENCE_MODEL_URI``) yourself to serve something else, ``DRIFT_MODELS`` to watch others.

Ports come from the environment (``GATEWAY_PORT``, ``INFERENCE_PORT``, ``DRIFT_PORT``, …; see
``DEFAULT_PORTS``); state lives under ``MLOPS_STATE_DIR`` (default ``.state``, git-ignored).

Every process listens on ``127.0.0.1`` only. ``MLOPS_BIND_ADDRESS`` (e.g. ``0.0.0.0``) opens the
two parts a person uses, the gateway and the frontend, to the network; Redis, MLflow, inference,
drift and the metrics ports stay on loopback whatever it says. Opened, the frontend is not given
the admin key: the person types it on the page. The keys are made once, under the state folder:
``admin-api-key`` (the gateway's admin routes) and ``drift-api-key`` (what the gateway sends to
drift's ``POST /v1/drift/check``).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess  # nosec B404: starts only the venv's honcho and mlops-train from argv lists, no shell
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from stack_registry import (
    BUILTIN_MODELS,
    DEFAULT_MODEL,
    PRODUCTION,
    production_models,
    served_models,
)

ROOT = Path(__file__).resolve().parent.parent
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


LOOPBACK = "127.0.0.1"
#: The ports a person opens; MLOPS_BIND_ADDRESS applies to these only.
PUBLIC_PORTS = ("GATEWAY_PORT", "FRONTEND_PORT")


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
        ports = {}
        for name, default in DEFAULT_PORTS.items():
            try:
                ports[name] = int(environ.get(name, default))
            except ValueError:
                raise StackError(f"{name}={environ[name]!r} is not a port number") from None
        state = Path(environ.get("MLOPS_STATE_DIR", ROOT / ".state")).resolve()
        state.mkdir(parents=True, exist_ok=True)
        return cls(
            ports=ports,
            state_dir=state,
            venv_bin=Path(environ.get("VENV_BIN", ROOT / ".venv" / "bin")).resolve(),
            admin_key=environ.get("GATEWAY_ADMIN_API_KEYS") or _secret(state, "admin-api-key"),
            drift_key=_secret(state, "drift-api-key"),
            bind_address=_bind_address(environ.get("MLOPS_BIND_ADDRESS") or LOOPBACK),
        )

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


def check_prerequisites(config: StackConfig) -> None:
    """Fail clearly when redis-server or honcho is missing or a port is taken."""
    if shutil.which("redis-server") is None:
        raise StackError(
            "redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install "
            "redis-server; macOS: brew install redis) and run make up again."
        )
    if not (config.venv_bin / "honcho").exists():
        raise StackError(f"honcho is missing from {config.venv_bin}: run make setup")
    taken = []
    for name, port in config.ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((config.bind_of(name), port))
            except OSError:
                taken.append(f"  port {port} ({name}) is already in use: set {name}=<free port>")
    if taken:
        raise StackError("cannot start the stack:\n" + "\n".join(taken))


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # nosec B310: url is http://127.0.0.1:<port> from config.url()
            return 200 <= response.status < 300
    except (OSError, urllib.error.URLError):
        return False


def _redis_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def health_checks(config: StackConfig) -> dict[str, Callable[[], bool]]:
    """One check per service, in start-up order."""
    return {
        "redis": lambda: _redis_ok(config.ports["REDIS_PORT"]),
        "mlflow": lambda: _http_ok(config.url("MLFLOW_PORT") + "/health"),
        "inference": lambda: _http_ok(config.url("INFERENCE_METRICS_PORT") + "/metrics"),
        "drift": lambda: _http_ok(config.url("DRIFT_PORT") + "/healthz"),
        "worker": lambda: _http_ok(config.url("TRAINER_WORKER_METRICS_PORT") + "/metrics"),
        "frontend": lambda: _http_ok(config.url("FRONTEND_PORT") + "/_stcore/health"),
        "gateway": lambda: _http_ok(config.url("GATEWAY_PORT") + "/readyz"),
    }


def wait_until(
    check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], timeout: float
) -> None:
    """Poll ``check`` until true; fail when the supervisor died or time ran out."""
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise StackError(f"the stack stopped while waiting for {what} (see the log above)")
        if time.monotonic() > deadline:
            raise StackError(f"{what} is not healthy after {timeout:.0f}s (see the log above)")
        time.sleep(0.5)


def registered_models(config: StackConfig) -> list[str]:
    """The local registry's models with a ``production`` alias; none if unreadable (warned)."""
    try:
        return production_models(config.registry_db)
    except Exception as exc:  # an unreadable store must not stop the default model from serving
        print(
            f"stack: cannot read the production aliases from {config.registry_db} ({exc}); "
            f"serving {DEFAULT_MODEL} only",
            file=sys.stderr,
            flush=True,
        )
        return []


def has_production_model(config: StackConfig, name: str = DEFAULT_MODEL) -> bool:
    """True when the registry's model ``name`` has a ``production`` alias."""
    url = (
        config.url("MLFLOW_PORT")
        + f"/api/2.0/mlflow/registered-models/alias?name={name}&alias={PRODUCTION}"
    )
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # nosec B310: url is http://127.0.0.1:<port> from config.url()
            return bool(json.load(response).get("model_version"))
    except (OSError, urllib.error.URLError, ValueError):
        return False


def bootstrap_model(config: StackConfig, env: dict[str, str], missing: list[str]) -> None:
    """Train, register and promote the built-in models without production (first start)."""
    print(
        f"stack: no production version of {', '.join(missing)} in the registry; training…",
        flush=True,
    )
    cmd = [str(config.venv_bin / "mlops-train"), "bootstrap"]
    result = subprocess.run(cmd, env=env, cwd=ROOT, check=False)  # nosec B603: fixed argv (the venv's mlops-train bootstrap), no shell
    if result.returncode != 0:
        raise StackError(f"bootstrap training failed (exit {result.returncode}): {' '.join(cmd)}")


def first_prediction(config: StackConfig) -> dict[str, object]:
    """Send one prediction through the gateway and return its answer."""
    body = json.dumps({"instances": [[0.0] * 28 + [16.0] * 8 + [0.0] * 28]}).encode()
    request = urllib.request.Request(
        config.url("GATEWAY_PORT") + "/v1/predict",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # nosec B310: http://127.0.0.1:<port> from config.url()
        answer: dict[str, object] = json.load(response)
        return answer


def run(config: StackConfig, timeout: float) -> int:
    """Start the stack, wait until healthy, print the URLs, then supervise until interrupted."""
    started = time.monotonic()
    check_prerequisites(config)
    print(f"stack: {listening_note(config)}", flush=True)
    for folder in ("redis", "mlflow/artifacts", "logs"):
        (config.state_dir / folder).mkdir(parents=True, exist_ok=True)
    env = config.environment(dict(os.environ), served_models(registered_models(config)))
    honcho = [str(config.venv_bin / "honcho"), "start", "-f", str(ROOT / "Procfile")]
    proc = subprocess.Popen(honcho, cwd=ROOT, env=env, start_new_session=True)  # nosec B603: fixed argv (the venv's honcho, our Procfile), no shell

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        checks = health_checks(config)
        for name in ("redis", "mlflow"):
            wait_until(checks[name], name, proc, timeout)
        missing = [name for name in BUILTIN_MODELS if not has_production_model(config, name)]
        if missing:
            bootstrap_model(config, env, missing)
        for name, check in checks.items():
            wait_until(check, name, proc, timeout)
            print(f"stack: {name} healthy", flush=True)
        answer = first_prediction(config)
        elapsed = time.monotonic() - started
        print(f"stack: all healthy; first prediction {elapsed:.1f}s after start", flush=True)
        print(f"stack: model {answer.get('model')}", flush=True)
        served = env.get("INFERENCE_MODELS") or env["INFERENCE_MODEL_URI"]
        print(f"stack: serving {served.replace(',', ', ')}", flush=True)
        print(
            "\n".join(
                [
                    f"  gateway   {config.url('GATEWAY_PORT')}  (API docs: /docs)",
                    f"  frontend  {config.url('FRONTEND_PORT')}",
                    f"  drift     {config.url('DRIFT_PORT')}/v1/drift/status",
                    f"  mlflow    {config.url('MLFLOW_PORT')}",
                    f"  inference grpc://127.0.0.1:{config.ports['INFERENCE_PORT']}",
                    *model_urls(config, env.get("INFERENCE_MODELS", "")),
                    f"  admin key {config.state_dir / 'admin-api-key'} (X-API-Key header)",
                    "Press Ctrl-C to stop.",
                ]
            ),
            flush=True,
        )
        return proc.wait()
    except KeyboardInterrupt:
        print("\nstack: stopping…", flush=True)
        return 0
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        _stop(proc)


def listening_note(config: StackConfig) -> str:
    """Where the stack listens, and how to change it (printed at start)."""
    if not config.open_to_network:
        return (
            f"listening on {LOOPBACK} only (this machine); MLOPS_BIND_ADDRESS=0.0.0.0 opens the "
            "gateway and the frontend to the network"
        )
    return (
        f"the gateway and the frontend listen on {config.bind_address} (MLOPS_BIND_ADDRESS): "
        "anyone on the network can reach them; the frontend asks for the admin key; redis, "
        f"mlflow, inference, drift and the metrics stay on {LOOPBACK}"
    )


def model_urls(config: StackConfig, models: str) -> list[str]:
    """One line per served model: its Open Inference Protocol route on the gateway."""
    names = [entry.partition("=")[0].strip() for entry in models.split(",") if entry.strip()]
    gateway = config.url("GATEWAY_PORT")
    return [f"  model     {name}  {gateway}/v2/models/{name}/infer" for name in names]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per service")
    args = parser.parse_args()
    try:
        return run(StackConfig.from_env(dict(os.environ)), args.timeout)
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
