"""Run the whole platform locally: ``make up`` (``python scripts/stack.py``).

Checks that Redis is installed and picks the ports (``stack_config``, with ``stack_ports``: an
internal part whose default port is taken moves to a free one), starts every process of the
``Procfile`` under supervisord (``stack_supervisor``: a process that crashes is restarted, the
others keep running), trains and registers a first model when the registry has no
``production`` version, waits until each service is healthy, prints the URLs and the time to the
first answered prediction, and stops everything on Ctrl-C (or SIGTERM, or SIGHUP), whatever
became of stdout. Redis keeps its data in an append-only file under the state folder.

Inference serves every registered model that has a ``production`` alias, ``digits-classifier``
first (it is bootstrapped when missing): the launcher reads the aliases from the local registry
once, before the processes start, and passes the names as ``INFERENCE_MODELS``, and the same
list to drift as ``DRIFT_MODELS`` (it watches each one). Set ``INFERENCE_MODELS`` (or
``INFERENCE_MODEL_URI``) yourself to serve something else, ``DRIFT_MODELS`` to watch others.

Ports come from the environment (``GATEWAY_PORT``, ``INFERENCE_PORT``, ``DRIFT_PORT``, …; see
``stack_ports.DEFAULT_PORTS``); state lives under ``MLOPS_STATE_DIR`` (default ``.state``,
git-ignored): the registry, Redis's data, every process's log under ``logs/``.

Every process listens on ``127.0.0.1`` only. ``MLOPS_BIND_ADDRESS`` (e.g. ``0.0.0.0``) opens the
two parts a person uses, the gateway and the frontend, to the network; Redis, MLflow, inference,
drift and the metrics ports stay on loopback whatever it says. Opened, the frontend is not given
the admin key: the person types it on the page. The keys are made once, under the state folder:
``admin-api-key`` (the gateway's admin routes) and ``drift-api-key`` (what the gateway sends to
drift's ``POST /v1/drift/check``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess  # nosec B404: starts only the venv's mlops-train from an argv list, no shell
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from stack_config import LOOPBACK, ROOT, StackConfig, StackError
from stack_registry import (
    BUILTIN_MODELS,
    DEFAULT_MODEL,
    PRODUCTION,
    production_models,
    served_models,
)
from stack_supervisor import Supervisor, say, stop_on_signals, wait


def check_prerequisites(config: StackConfig) -> None:
    """Fail clearly when redis-server or supervisord is missing."""
    if shutil.which("redis-server") is None:
        raise StackError(
            "redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install "
            "redis-server; macOS: brew install redis) and run make up again."
        )
    if not (config.venv_bin / "supervisord").exists():
        raise StackError(f"supervisord is missing from {config.venv_bin}: run make setup")


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
    say(f"stack: no production version of {', '.join(missing)} in the registry; training…")
    cmd = [str(config.venv_bin / "mlops-train"), "bootstrap"]
    log = config.state_dir / "logs" / "bootstrap.log"  # followed and printed like the services
    with log.open("ab") as output:
        result = subprocess.run(  # nosec B603: fixed argv (the venv's mlops-train bootstrap), no shell
            cmd, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        raise StackError(
            f"bootstrap training failed (exit {result.returncode}): {' '.join(cmd)}; see {log}"
        )


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
    config, moved = config.with_free_ports()
    for line in (listening_note(config), *moved):
        say(f"stack: {line}")
    for folder in ("redis", "mlflow/artifacts", "logs"):
        (config.state_dir / folder).mkdir(parents=True, exist_ok=True)
    env = config.environment(dict(os.environ), served_models(registered_models(config)))
    logs = config.state_dir / "logs"
    supervisor = Supervisor(
        ROOT / "Procfile", config.state_dir / "run", logs, config.venv_bin, extra_logs=["bootstrap"]
    )

    stop_on_signals()
    try:
        proc = supervisor.start(env)
        checks = health_checks(config)
        for name in ("redis", "mlflow"):
            wait_until(checks[name], name, proc, timeout)
        missing = [name for name in BUILTIN_MODELS if not has_production_model(config, name)]
        if missing:
            bootstrap_model(config, env, missing)
        for name, check in checks.items():
            wait_until(check, name, proc, timeout)
            say(f"stack: {name} healthy")
        answer = first_prediction(config)
        elapsed = time.monotonic() - started
        say(f"stack: all healthy; first prediction {elapsed:.1f}s after start")
        say(f"stack: model {answer.get('model')}")
        served = env.get("INFERENCE_MODELS") or env["INFERENCE_MODEL_URI"]
        say(f"stack: serving {served.replace(',', ', ')}")
        say(
            "\n".join(
                [
                    f"  gateway   {config.url('GATEWAY_PORT')}  (API docs: /docs)",
                    f"  frontend  {config.url('FRONTEND_PORT')}",
                    f"  drift     {config.url('DRIFT_PORT')}/v1/drift/status",
                    f"  mlflow    {config.url('MLFLOW_PORT')}",
                    f"  inference grpc://127.0.0.1:{config.ports['INFERENCE_PORT']}",
                    *model_urls(config, env.get("INFERENCE_MODELS", "")),
                    f"  admin key {config.state_dir / 'admin-api-key'} (X-API-Key header)",
                    f"  logs      {config.state_dir / 'logs'}",
                    "A process that crashes is restarted; Ctrl-C stops everything.",
                ]
            )
        )
        return wait(proc)
    except KeyboardInterrupt:
        say("\nstack: stopping…")
        return 0
    except StackError as exc:
        say(f"stack: {exc}")
        return 1
    finally:
        supervisor.stop()


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
