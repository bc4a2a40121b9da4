"""Real servers for the test suites, started on free ports and stopped after.

Test support only (the ``testing`` extra): services never import this module.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess  # nosec B404: test support only; starts local test servers from fixed argv lists
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    """Block until ``host:port`` accepts a TCP connection; ``TimeoutError`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout:.0f}s"
                ) from None
            time.sleep(0.05)


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop ``proc`` and every child it started (it must run in its own session)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


@dataclass
class RedisServer:
    """A throwaway ``redis-server`` on a free port, persisting nothing.

    Tests that must see Redis go away use :meth:`stop` and :meth:`start` (same port).
    """

    binary: str = field(default_factory=lambda: shutil.which("redis-server") or "redis-server")
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """``redis://host:port/0``."""
        return f"redis://{self.host}:{self.port}/0"

    @staticmethod
    def available() -> bool:
        """True when a ``redis-server`` binary is on the PATH."""
        return shutil.which("redis-server") is not None

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it accepts connections."""
        args = [self.binary, "--port", str(self.port), "--bind", self.host, "--save", ""]
        args += ["--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
        self._proc = subprocess.Popen(  # nosec B603: fixed argv (redis-server on PATH, our own port/host), no shell
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.host, self.port, timeout)
        return self

    def stop(self) -> None:
        """Stop the server (its data is gone)."""
        if self._proc is not None:
            stop_process_group(self._proc)
            self._proc = None

    @property
    def running(self) -> bool:
        """True while the process lives."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (benchmarks read its CPU time)."""
        return self._proc.pid if self.running and self._proc is not None else None


@dataclass
class MlflowServer:
    """``mlflow server`` with a sqlite store and local artifacts, on a free port."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mlflow-")))
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """The tracking URI clients use."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 90.0) -> MlflowServer:
        """Start the server and wait until ``/health`` answers."""
        self.root.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        args = [sys.executable, "-m", "mlflow", "server", "--host", self.host]
        args += ["--port", str(self.port), "--workers", "1"]
        args += ["--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}"]
        args += ["--artifacts-destination", str(self.root / "artifacts")]
        log = (self.root / "server.log").open("wb")
        self._proc = subprocess.Popen(  # nosec B603: fixed argv (this Python -m mlflow, our own paths), no shell
            args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"mlflow server exited: {(self.root / 'server.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # nosec B310: self.url is http://<host>:<port> built by this class
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"mlflow server not healthy after {timeout:.0f}s")
            time.sleep(0.25)

    def stop(self) -> None:
        """Stop the server and its workers (the whole process group)."""
        if self._proc is not None:
            stop_process_group(self._proc)
            self._proc = None
