"""A ``make up`` stack run from another program (tests, the fault suite) and reached from it.

:func:`run_stack` starts ``scripts/stack.py`` on free ports over a state folder, collects what it
prints, and stops it with Ctrl-C (SIGINT) afterwards. :class:`RunningStack` reaches the running
stack: its URLs, its keys, and the processes its supervisord runs (their pids, a SIGKILL to
one of them, the restarts supervisord reported).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess  # nosec B404: starts only this Python on scripts/stack.py and supervisorctl
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mlops_common.testing.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PORT_NAMES = (
    "GATEWAY_PORT",
    "INFERENCE_PORT",
    "INFERENCE_METRICS_PORT",
    "DRIFT_PORT",
    "FRONTEND_PORT",
    "MLFLOW_PORT",
    "REDIS_PORT",
    "TRAINER_WORKER_METRICS_PORT",
)


@dataclass
class RunningStack:
    """A stack started by ``scripts/stack.py``, what it printed, and its processes."""

    ports: dict[str, int]
    state_dir: Path
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def redis_url(self) -> str:
        """The stack's Redis."""
        return f"redis://127.0.0.1:{self.ports['REDIS_PORT']}/0"

    @property
    def admin_key(self) -> str:
        """The admin key ``make up`` generated."""
        return (self.state_dir / "admin-api-key").read_text().strip()

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """Block until the launcher prints a line matching ``pattern``."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for line in self.lines[seen:]:
                if match := re.search(pattern, line):
                    return match
            seen = len(self.lines)
            if self.proc.poll() is not None:
                tail = "".join(self.lines[-60:])
                raise AssertionError(f"stack exited ({self.proc.returncode}):\n{tail}")
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} after {timeout:.0f}s")

    # The processes under supervisord ---------------------------------------------------------

    def ctl(self, *args: str) -> str:
        """``supervisorctl`` against the stack's supervisord; its output."""
        command = [str(Path(sys.executable).parent / "supervisorctl")]
        command += ["-c", str(self.state_dir / "run" / "supervisord.conf"), *args]
        result = subprocess.run(  # nosec B603: the venv's supervisorctl, argv list, no shell
            command, capture_output=True, text=True, timeout=30, check=False
        )
        return result.stdout

    def pid(self, program: str) -> int:
        """The pid of a running program of the Procfile (0: not running)."""
        answer = self.ctl("pid", program).strip()
        return int(answer) if answer.isdigit() else 0

    def kill(self, program: str, sig: int = signal.SIGKILL, *, group: bool = False) -> int:
        """Send ``sig`` to a program's process, or with ``group`` to its whole process group
        (a server and its workers: supervisord starts each program in a group of its own);
        the pid signalled."""
        pid = self.pid(program)
        if not pid:
            raise RuntimeError(f"{program} is not running")
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
        return pid

    def wait_restarted(self, program: str, old_pid: int, timeout: float = 60.0) -> float:
        """Block until ``program`` runs again under a new pid; the monotonic time it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pid(program)
            if pid and pid != old_pid:
                return time.monotonic()
            time.sleep(0.1)
        raise TimeoutError(f"{program} was not restarted within {timeout:.0f}s")

    def exits(self) -> dict[str, int]:
        """How many times supervisord saw each program exit unexpectedly, so far."""
        log = (self.state_dir / "logs" / "supervisord.log").read_text(errors="replace")
        found = re.findall(r"exited: (\w+) \(.*not expected\)", log)
        return {name: found.count(name) for name in sorted(set(found))}


@contextmanager
def run_stack(
    state_dir: Path,
    extra_env: Mapping[str, str],
    seed: Path | None = None,
    ports: Mapping[str, int] | None = None,
    timeout_s: float = 400.0,
) -> Iterator[RunningStack]:
    """Run ``scripts/stack.py`` on free ports (or ``ports``); Ctrl-C (SIGINT) stops it after.

    ``seed``: a state folder copied in first (a registry that already holds models). The
    variables that would point the stack elsewhere (``REDIS_URL``, ``MLFLOW_TRACKING_URI``) are
    dropped from the environment.
    """
    if seed is not None:
        shutil.copytree(seed, state_dir, dirs_exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    chosen = dict(ports) if ports is not None else {name: free_port() for name in PORT_NAMES}
    env = {
        **os.environ,
        **{name: str(port) for name, port in chosen.items()},
        "MLOPS_STATE_DIR": str(state_dir),
        **extra_env,
    }
    for variable in ("REDIS_URL", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(variable, None)
    proc = subprocess.Popen(  # nosec B603: this Python on scripts/stack.py, argv list, no shell
        [sys.executable, str(ROOT / "scripts" / "stack.py"), "--timeout", str(timeout_s)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stack = RunningStack(ports=chosen, state_dir=state_dir, proc=proc)
    log = (state_dir / "stack-test.log").open("w")

    def pump() -> None:
        if proc.stdout is None:  # never: stdout=PIPE above
            return
        for line in proc.stdout:
            stack.lines.append(line)
            log.write(line)
            log.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield stack
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        reader.join(timeout=5)
        log.close()
