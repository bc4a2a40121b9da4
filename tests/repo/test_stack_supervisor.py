"""``make up``'s supervisor (scripts/stack_supervisor.py) with a real supervisord: a process
killed with SIGKILL is started again and the others keep running; Ctrl-C stops every process
even after stdout is gone (``make up | tee`` interrupted)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

import stack_supervisor  # noqa: E402

pytestmark = pytest.mark.integration

SLEEPER = "python3 -c \"import time; print('{name} up ${{MARK}}', flush=True); time.sleep(600)\""


def _procfile(folder: Path) -> Path:
    procfile = folder / "Procfile"
    procfile.write_text(
        "# two programs that print a line and wait\n"
        + "".join(f"{name}: {SLEEPER.format(name=name)}\n" for name in ("alpha", "beta"))
    )
    return procfile


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _until(check: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)
    return value


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[stack_supervisor.Supervisor]:
    supervisor = stack_supervisor.Supervisor(
        _procfile(tmp_path), tmp_path / "run", tmp_path / "logs", Path(sys.executable).parent
    )
    supervisor.start({**os.environ, "MARK": "marked"})
    try:
        yield supervisor
    finally:
        supervisor.stop()


def test_a_killed_process_is_restarted_and_the_others_keep_running(
    supervised: stack_supervisor.Supervisor, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("alpha", "beta"):  # both started and printed their line
        _until(lambda name=name: f"{name} up" in _text(supervised.logs / f"{name}.log"))
    alpha = int(_until(lambda: supervised.pid("alpha")))  # type: ignore[call-overload]
    beta = int(_until(lambda: supervised.pid("beta")))  # type: ignore[call-overload]
    os.kill(alpha, signal.SIGKILL)
    restarted = int(
        _until(lambda: supervised.pid("alpha") not in (0, alpha) and supervised.pid("alpha"))
    )  # type: ignore[call-overload]
    assert restarted != alpha
    assert supervised.pid("beta") == beta  # untouched
    log = (supervised.logs / "supervisord.log").read_text()
    assert "exited: alpha (terminated by SIGKILL; not expected)" in log
    _until(lambda: (supervised.logs / "alpha.log").read_text().count("alpha up marked") == 2)
    supervised.follower.stop()
    printed = capsys.readouterr().out
    assert "alpha       | alpha up marked" in printed  # the Procfile's ${MARK} expanded
    assert "exited: alpha (terminated by SIGKILL; not expected)" in printed
    assert "Supervisor is running as root" not in printed


def test_ctrl_c_stops_everything_after_stdout_is_gone(tmp_path: Path) -> None:
    procfile = _procfile(tmp_path)
    launcher = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "stack_supervisor.py"), str(procfile)],
        env={**os.environ, "MLOPS_STATE_DIR": str(tmp_path / "state"), "MARK": "m"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert launcher.stdout is not None
    _until(lambda: b"beta up m" in launcher.stdout.readline() or None)  # type: ignore[union-attr]
    children = psutil.Process(launcher.pid).children(recursive=True)
    assert len([c for c in children if "time.sleep" in " ".join(c.cmdline())]) == 2
    launcher.stdout.close()  # the pipe is gone, as when `tee` dies on Ctrl-C
    time.sleep(0.5)
    launcher.send_signal(signal.SIGINT)
    assert launcher.wait(timeout=40) == 0
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    assert len(gone) == len(children)


def test_the_config_runs_each_line_through_sh_with_exec() -> None:
    assert stack_supervisor.exec_line("A=1 B=x cmd --flag") == "A=1 B=x exec cmd --flag"
    assert stack_supervisor.exec_line("cmd A=1") == "exec cmd A=1"
    config = stack_supervisor.supervisord_config(
        {"web": "serve --rate 50%"}, Path("/run"), Path("/logs")
    )
    assert "exec serve --rate 50%%'" in config  # % escaped for supervisord
    assert 'kill -9 -"$old"' in config  # what a killed run left behind goes first
    assert "autorestart=true" in config
    assert "stdout_logfile=/logs/web.log" in config


def test_a_malformed_procfile_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "Procfile"
    bad.write_text("web: serve\nno command here\n")
    with pytest.raises(ValueError, match="Procfile:2"):
        stack_supervisor.read_procfile(bad)


def test_what_a_killed_program_left_running_is_killed_before_it_starts_again(
    tmp_path: Path,
) -> None:
    """MLflow's server runs uvicorn as a child: SIGKILL the parent and the child keeps the port;
    the restarted program first kills the group its previous run left behind."""
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "parent: python3 -c \"import subprocess, time; subprocess.Popen(['sleep', '600']); "
        "print('parent up', flush=True); time.sleep(600)\"\n"
    )
    supervisor = stack_supervisor.Supervisor(
        procfile, tmp_path / "run", tmp_path / "logs", Path(sys.executable).parent
    )
    supervisor.start(dict(os.environ))
    try:
        _until(lambda: "parent up" in _text(supervisor.logs / "parent.log"))
        parent = psutil.Process(int(_until(lambda: supervisor.pid("parent"))))  # type: ignore[call-overload]
        (child,) = _until(lambda: parent.children())  # type: ignore[misc]
        parent.kill()
        _until(lambda: supervisor.pid("parent") not in (0, parent.pid))
        assert child.wait(timeout=20) is not None or not child.is_running()
    finally:
        supervisor.stop()
