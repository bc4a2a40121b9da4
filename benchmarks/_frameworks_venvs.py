"""The serving-frameworks benchmark's own virtualenvs: one per framework, kept between runs.

Each target that is not ours runs from a virtualenv of its own (``python -m venv`` + pip), so
its packages never meet the platform's. A venv is reused when its marker file names the same
requirements; otherwise it is made anew.

    python benchmarks/_frameworks_venvs.py CACHE_DIR   # make (or check) them all, timed
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

REQUIREMENTS: dict[str, list[str]] = {
    # uvloop ≥ 0.22 kills MLServer 1.7.1's worker (its asyncio.get_event_loop() raises there)
    "mlserver": ["mlserver", "onnxruntime", "uvloop<0.22"],
    "fastapi-torch": ["fastapi", "uvicorn[standard]", "numpy", "pillow", "torch==2.13.0"],
    "fastapi-onnx": ["fastapi", "uvicorn[standard]", "numpy", "onnxruntime"],
}
MARKER = ".bench-requirements"


def _base_python() -> str:
    """The interpreter new venvs are made from (the base one, not this venv's)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def ensure_venv(cache: Path, name: str) -> tuple[Path, float]:
    """The python of venv ``name`` under ``cache`` (made when missing), and the seconds spent."""
    started = time.perf_counter()
    root = cache / name
    wanted = "\n".join(REQUIREMENTS[name])
    python = root / "bin" / "python"
    marker = root / MARKER
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python, 0.0
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run([_base_python(), "-m", "venv", str(root)], check=True)
    log = cache / f"{name}-pip.log"
    with log.open("wb") as out:
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check",
             *REQUIREMENTS[name]],
            stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"pip install for {name} failed; see {log}")
    marker.write_text(wanted)
    return python, time.perf_counter() - started


def python_says(python: Path, code: str) -> str:
    """What ``code`` prints when the venv's ``python`` runs it (``?`` when it fails)."""
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def package_version(python: Path, distribution: str) -> str:
    """``distribution``'s installed version in the venv of ``python`` (``?`` when absent)."""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    return python_says(python, code)


if __name__ == "__main__":
    for venv in REQUIREMENTS:
        _, seconds = ensure_venv(Path(sys.argv[1]), venv)
        print(f"{venv}: {seconds:.0f} s", flush=True)
