"""The local stack's processes under supervisord: one crash restarts one service, not all.

``make up`` runs each line of the ``Procfile`` as a supervisord program (the library from PyPI,
not a hand-written supervisor): a process that exits is started again with supervisord's
back-off (``startsecs``, ``startretries``) while the others keep running; Ctrl-C or SIGTERM stops
them all, each process group, whatever became of the terminal.

Each program writes to ``<logs>/<name>.log`` and supervisord to ``<logs>/supervisord.log``; a
thread follows those files and prints their lines as ``name | line``, so what supervisord says
about a restart (``exited: inference (terminated by SIGKILL; not expected)``, ``spawned: …``)
shows beside the services' own lines. Printing is best effort: once stdout is gone (``make up |
tee`` interrupted), lines are only kept in the files, and stopping still works.

    python scripts/stack_supervisor.py Procfile   # supervise any Procfile until Ctrl-C
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess  # nosec B404: starts only supervisord and supervisorctl from the venv, argv lists
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

#: supervisord's program settings: restarted on any exit; a start counts once it stayed up
#: ``startsecs``; failed starts back off one second longer each time, ``startretries`` times.
PROGRAM_SETTINGS = {
    "autostart": "true",
    "autorestart": "true",
    "startsecs": "2",
    "startretries": "20",
    "stopsignal": "TERM",
    "stopwaitsecs": "20",
    "stopasgroup": "true",
    "killasgroup": "true",
    "redirect_stderr": "true",
    "stdout_logfile_maxbytes": "0",
}


#: supervisord's start-up warnings that say nothing here: the stack runs as its user, and the
#: control socket is a file only that user can open (chmod 0700).
_NOISE = ("CRIT Supervisor is running as root", "CRIT Server 'unix_http_server' running without")


_ASSIGNMENTS = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*")


def read_procfile(path: Path) -> dict[str, str]:
    """``name → command`` of each ``name: command`` line (``#`` comments and blanks skipped)."""
    programs: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip().isidentifier() or not command.strip():
            raise ValueError(f"{path}:{number}: expected 'name: command', got {raw!r}")
        programs[name.strip()] = command.strip()
    return programs


def exec_line(command: str) -> str:
    """``command`` for ``sh -c`` with ``exec`` after its leading ``NAME=value`` assignments, so
    the shell hands its pid (and signals) to the program and the assignments reach it."""
    assignments = _ASSIGNMENTS.match(command)
    head = assignments.group(0) if assignments else ""
    return f"{head}exec {command[len(head) :]}"


def reap_line(pgid_file: Path) -> str:
    """Shell that kills what is left of the program's previous process group, then notes its
    own. supervisord starts each program in a group of its own but, when the program dies of
    a SIGKILL, leaves its children running (MLflow's uvicorn, Celery's pool process), still
    holding ports and jobs: the restarted program would find its port taken and exit, again
    and again."""
    return (
        f'old=$(cat {shlex.quote(str(pgid_file))} 2>/dev/null) && kill -9 -"$old" 2>/dev/null; '
        f"echo $$ > {shlex.quote(str(pgid_file))}; "
    )


def supervisord_config(programs: Mapping[str, str], run_dir: Path, logs: Path) -> str:
    """The supervisord.conf running ``programs`` (in order), its socket and pid under
    ``run_dir``, every log under ``logs``. Commands run through ``sh -c 'exec …'``, so the
    Procfile's ``${VARIABLES}`` expand and signals reach the process itself."""
    socket_path = run_dir / "supervisor.sock"
    sections = [
        f"[unix_http_server]\nfile={socket_path}\nchmod=0700\n",
        "[supervisord]\nnodaemon=true\nsilent=true\nloglevel=info\n"
        f"logfile={logs / 'supervisord.log'}\nlogfile_maxbytes=0\n"
        f"pidfile={run_dir / 'supervisord.pid'}\n",
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
        f"[supervisorctl]\nserverurl=unix://{socket_path}\n",
    ]
    for priority, (name, command) in enumerate(programs.items(), start=1):
        shell = shlex.quote(reap_line(run_dir / f"{name}.pgid") + exec_line(command))
        shell = shell.replace("%", "%%")
        settings = {
            "command": f"/bin/sh -c {shell}",
            "priority": str(priority * 10),
            "stdout_logfile": str(logs / f"{name}.log"),
            **PROGRAM_SETTINGS,
        }
        body = "\n".join(f"{key}={value}" for key, value in settings.items())
        sections.append(f"[program:{name}]\n{body}\n")
    return "\n".join(sections)


def say(line: str) -> None:
    """Print a line if stdout still takes it (a closed pipe is not an error here)."""
    try:
        print(line, flush=True)
    except (BrokenPipeError, OSError, ValueError):
        # later prints and the interpreter's exit flush go nowhere instead of failing
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115


@dataclass
class LogFollower:
    """Follows ``<logs>/*.log`` from a thread and prints new lines as ``name | line``."""

    logs: Path
    names: list[str]
    interval_s: float = 0.2
    _offsets: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start following (from the files' current ends)."""
        for name in self.names:
            path = self.logs / f"{name}.log"
            self._offsets[name] = path.stat().st_size if path.exists() else 0
        self._thread = threading.Thread(target=self._run, name="log-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Print what is left, then stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._drain()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._drain()

    def _drain(self) -> None:
        width = max(len(name) for name in self.names)
        for name in self.names:
            path = self.logs / f"{name}.log"
            try:
                with path.open("rb") as handle:
                    handle.seek(self._offsets.get(name, 0))
                    chunk = handle.read()
            except FileNotFoundError:
                continue
            end = chunk.rfind(b"\n") + 1  # whole lines only; the rest waits for its newline
            if not end:
                continue
            self._offsets[name] = self._offsets.get(name, 0) + end
            for line in chunk[:end].decode(errors="replace").splitlines():
                if not any(noise in line for noise in _NOISE):
                    say(f"{name.ljust(width)} | {line}")


class Supervisor:
    """supervisord running a Procfile's programs, and the follower printing their logs."""

    def __init__(
        self,
        procfile: Path,
        run_dir: Path,
        logs: Path,
        venv_bin: Path,
        extra_logs: Sequence[str] = (),
    ) -> None:
        self.programs = read_procfile(procfile)
        self.run_dir, self.logs, self.venv_bin = run_dir, logs, venv_bin
        self.config_path = run_dir / "supervisord.conf"
        self.proc: subprocess.Popen[bytes] | None = None
        self.names = ["supervisord", *self.programs, *extra_logs]
        self.follower = LogFollower(logs, self.names)

    def start(self, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Write the config and start supervisord (its own session: a terminal's Ctrl-C reaches
        only the launcher, which then stops supervisord in order)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        for stale in self.run_dir.glob("*.pgid"):  # groups of an earlier start are not ours
            stale.unlink()
        for name in self.names:  # one start's lines per file
            log = self.logs / f"{name}.log"
            if log.exists():
                log.replace(log.with_suffix(".log.1"))
        self.config_path.write_text(supervisord_config(self.programs, self.run_dir, self.logs))
        self.follower.start()
        command = [str(self.venv_bin / "supervisord"), "-c", str(self.config_path)]
        self.proc = subprocess.Popen(  # nosec B603: the venv's supervisord, argv list, no shell
            command,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=(self.logs / "supervisord.out").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self.proc

    def ctl(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run ``supervisorctl`` against this supervisord (``status``, ``pid inference``, …)."""
        command = [str(self.venv_bin / "supervisorctl"), "-c", str(self.config_path), *args]
        return subprocess.run(  # nosec B603: the venv's supervisorctl, argv list, no shell
            command, capture_output=True, text=True, timeout=timeout, check=False
        )

    def pid(self, name: str) -> int:
        """The running process of program ``name`` (0 when it is not running)."""
        answer = self.ctl("pid", name).stdout.strip()
        return int(answer) if answer.isdigit() else 0

    def stop(self, timeout: float = 45.0) -> None:
        """SIGTERM supervisord (it stops every program, its whole group, in reverse order);
        whatever is still alive after ``timeout`` is killed."""
        if self.proc is None:
            return
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C waits too
            signal.signal(sig, signal.SIG_IGN)
        survivors = _descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for process in survivors:  # supervisord killed, or a grandchild outside every group
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        self.follower.stop()


def stop_on_signals() -> None:
    """Turn SIGINT, SIGTERM and SIGHUP (a closed terminal) into KeyboardInterrupt. SIGINT too,
    since a process started in the background begins with it ignored."""

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def wait(proc: subprocess.Popen[bytes]) -> int:
    """Block until supervisord exits; its exit status (0 for a clean stop)."""
    while proc.poll() is None:
        time.sleep(0.5)
    return proc.returncode or 0


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def main() -> int:
    """Supervise the Procfile given as the first argument until Ctrl-C or SIGTERM."""
    procfile = Path(sys.argv[1]).resolve()
    state = Path(os.environ.get("MLOPS_STATE_DIR", ".state")).resolve()
    supervisor = Supervisor(procfile, state / "run", state / "logs", Path(sys.executable).parent)
    proc = supervisor.start(os.environ)
    stop_on_signals()
    try:
        return wait(proc)
    except KeyboardInterrupt:
        say("supervisor: stopping…")
        return 0
    finally:
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
