"""Serving frameworks side by side: our REST path, direct gRPC, MLServer, FastAPI + PyTorch and
FastAPI + onnxruntime, all on the default trained digits model (issue 20).

Trains the default config once with the trainer's own code (or reuses ``--model-dir``), exports
it with the pipeline's ONNX export, and serves it five ways:

- ``rest``: ``POST /v1/predict`` on ``python -m mlops_gateway`` (traffic logging on, a real
  redis-server) → gRPC → ``python -m mlops_inference`` (batching on, its defaults);
- ``grpc``: OIP ``ModelInfer`` straight to that inference service;
- ``mlserver``: MLServer (own venv) with ``frameworks/mlserver_runtime.py``, adaptive batching
  on (64 rows, 2 ms), ``POST /v2/models/digits/infer``;
- ``fastapi-torch`` / ``fastapi-onnx``: the one-file FastAPI apps in ``frameworks/`` (own venvs),
  uvicorn with 1 worker, ``POST /predict``.

Each target is warmed up and its answer checked (the ONNX model's class on the sent row) before
measuring. Then ``--rounds`` rounds measure every target at every concurrency, back to back in an
order that rotates from round to round, with closed-loop load generators in their own processes
(``_loadgen.py``). Comparisons are ratios within a round. CPU per request is read per server
process tree from ``/proc``. Writes ``benchmarks/results/serving_frameworks.md``.

    .venv/bin/python benchmarks/serving_frameworks.py [--duration 3] [--warmup 0.5] [--rounds 3]
        [--concurrency 1,8,32,64] [--model-dir DIR] [--venv-cache DIR] [--before REF]
        [--baseline-cpu-us 1160]

With ``--before REF`` the REST path of commit REF runs beside the current one (``rest-before``,
see ``_frameworks_ours.py``), and the CPU target is checked against it within each round.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _frameworks_targets as t
from _frameworks_model import expected_class, prepare_model
from _frameworks_ours import checkout_before, start_ours
from _frameworks_report import RESULTS, Rounds, report
from _frameworks_venvs import ensure_venv, package_version, python_says
from _gateway_report import Cell
from _loadgen import drive


def start_targets(
    args: argparse.Namespace, root: Path, model_dir: Path, procs: list[subprocess.Popen[bytes]]
) -> dict[str, t.Target]:
    """Start every target's servers (appending each process to ``procs``); the targets."""
    from mlops_common.testing.servers import free_port

    bodies = t.request_bodies(root)
    model = model_dir / "model.onnx"
    targets = start_ours(args, root, model, bodies["instances"], procs)
    if args.before:
        before = checkout_before(args.before, root)
        targets |= start_ours(
            args, root, model, bodies["instances"], procs, label="rest-before", pythonpath=before
        )

    if "mlserver" in args.pythons:
        targets["mlserver"] = start_mlserver(args, root, model, bodies["v2"], procs)

    for name, app, extra in (
        ("fastapi-torch", "fastapi_torch_app", t.python_path(t.ROOT / "libs/common/src",
                                                              t.ROOT / "services/trainer/src")),
        ("fastapi-onnx", "fastapi_onnx_app", ""),
    ):  # fmt: skip
        if name not in args.pythons:
            continue
        app_port, log = free_port(), root / f"{name}.log"
        env = {"MODEL_DIR": str(model_dir), **({"PYTHONPATH": extra} if extra else {})}
        proc = t.spawn(
            [str(args.pythons[name]), "-m", "uvicorn", f"{app}:app", "--app-dir", str(t.FRAMEWORKS),
             "--host", t.LOCAL, "--port", str(app_port), "--no-access-log"], env, log,
        )  # fmt: skip
        procs.append(proc)
        url = f"http://{t.LOCAL}:{app_port}"
        t.wait_ready(proc, t.http_ok(f"{url}/health"), log)
        body = bodies["instances"]
        targets[name] = t.Target(name, "http", url, "/predict", body, {name: proc.pid})
    return {name: targets[name] for name in args.targets}


def start_mlserver(
    args: argparse.Namespace,
    root: Path,
    model: Path,
    body: Path,
    procs: list[subprocess.Popen[bytes]],
) -> t.Target:
    """Start MLServer on the model (its settings written into ``root``); its target."""
    from mlops_common.testing.servers import free_port

    ports = {name: free_port() for name in ("http", "grpc", "metrics")}
    folder = t.mlserver_folder(root, model, ports)
    log = root / "mlserver.log"
    proc = t.spawn(
        [str(args.pythons["mlserver"].with_name("mlserver")), "start", str(folder)],
        {"PYTHONPATH": str(t.FRAMEWORKS)}, log, cwd=folder,
    )  # fmt: skip
    procs.append(proc)
    url = f"http://{t.LOCAL}:{ports['http']}"
    t.wait_ready(proc, t.http_ok(f"{url}/v2/models/{t.MLSERVER_MODEL}/ready"), log)
    path = f"/v2/models/{t.MLSERVER_MODEL}/infer"
    return t.Target("mlserver", "http", url, path, body, {"mlserver": proc.pid})


def measure(target: t.Target, concurrency: int, args: argparse.Namespace) -> Cell:
    """One cell: ``concurrency`` requests in flight from 1 load process (c ≤ 8) or
    ``--clients``, for ``--duration`` s after ``--warmup`` s; CPU µs per request per group."""
    clients = max(1, min(args.clients if concurrency > 8 else 1, concurrency))
    before = {name: t.tree_cpu_seconds(pid) for name, pid in target.groups.items()}
    latencies, requests = drive(
        target.kind, target.address, concurrency, clients, args.duration, args.warmup,
        target.loadgen_extra(),
    )  # fmt: skip
    cpu_us = {
        name: (t.tree_cpu_seconds(pid) - before[name]) / max(requests, 1) * 1e6
        for name, pid in target.groups.items()
    }
    return Cell.of(latencies, args.duration, cpu_us)


def run_rounds(targets: dict[str, t.Target], args: argparse.Namespace) -> Rounds:
    """Every cell once per round, in a target order that rotates from round to round."""
    rounds: Rounds = []
    names = list(targets)
    for round_ in range(args.rounds):
        cells: dict[tuple[str, int], Cell] = {}
        shift = round_ % len(names)
        for concurrency in args.concurrency:
            for name in names[shift:] + names[:shift]:
                cell = measure(targets[name], concurrency, args)
                cells[(name, concurrency)] = cell
                print(f"  round {round_ + 1} {name:14s} c={concurrency:<3d} {cell}", flush=True)
        rounds.append(cells)
    return rounds


def code_state() -> str:
    """The commit measured, and whether the services' code differed from it."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", "-C", str(t.ROOT), *argv], capture_output=True, text=True)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "services", "libs")
    return f"commit {git('rev-parse', '--short', 'HEAD') or '?'}" + (
        " with uncommitted changes in services/ or libs/" if changed else ""
    )


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per cell")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds before measuring")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians")
    parser.add_argument("--concurrency", default="1,8,32,64", help="comma-separated")
    parser.add_argument("--clients", type=int, default=2, help="load processes at c > 8")
    everyday = ",".join(name for name in t.TARGETS if name != "rest-before")
    parser.add_argument("--targets", default=everyday, help="comma-separated subset")
    parser.add_argument("--model-dir", type=Path, help="reuse (or keep) the trained model here")
    parser.add_argument("--venv-cache", type=Path, help="keep and reuse the frameworks' venvs")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the Markdown report")
    parser.add_argument(
        "--baseline-cpu-us", type=float, default=1160.0,
        help="REST-path CPU µs per request before the work (the target is ≤ half of it), "
        "when no --before is measured",
    )  # fmt: skip
    parser.add_argument(
        "--before", metavar="REF",
        help="also measure the REST path as commit REF had it (target rest-before)",
    )  # fmt: skip
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    names = args.targets.split(",") + (["rest-before"] if args.before else [])
    args.targets = [name for name in t.TARGETS if name in names]
    if "rest-before" in args.targets and not args.before:
        parser.error("the target rest-before needs --before REF")
    return args


def versions(pythons: dict[str, Path]) -> dict[str, str]:
    """The frameworks' versions in their venvs (those made), and onnxruntime's in each."""
    found = {}
    for label, venv, distribution in (
        ("MLServer", "mlserver", "mlserver"), ("FastAPI", "fastapi-onnx", "fastapi"),
        ("uvicorn", "fastapi-onnx", "uvicorn"), ("torch", "fastapi-torch", "torch"),
    ):  # fmt: skip
        if venv in pythons:
            found[label] = package_version(pythons[venv], distribution)
    runtimes = {"ours": Path(sys.executable)} | {
        name: pythons[name] for name in ("mlserver", "fastapi-onnx") if name in pythons
    }
    label = f"onnxruntime ({' / '.join(runtimes)})"
    found[label] = " / ".join(package_version(p, "onnxruntime") for p in runtimes.values())
    return found


def main() -> None:
    """Model, venvs, servers, rounds, report."""
    args = parse_args()
    from mlops_common.testing.servers import RedisServer, stop_process_group

    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="serving-frameworks-"))
    model_dir = args.model_dir or root / "model"
    args.train_s = prepare_model(model_dir)
    cache = args.venv_cache or root / "venvs"
    args.pythons, args.venv_s = {}, {}
    for name in ("mlserver", "fastapi-torch", "fastapi-onnx"):
        if name in args.targets:
            args.pythons[name], args.venv_s[name] = ensure_venv(cache, name)
    args.versions, args.torch_threads = versions(args.pythons), "?"
    if "fastapi-torch" in args.pythons:
        code = "import torch; print(torch.get_num_threads(), torch.get_num_interop_threads())"
        args.torch_threads = python_says(args.pythons["fastapi-torch"], code).replace(" ", ", ")
    expected = expected_class(model_dir / "model.onnx")
    args.code = code_state()  # what the services are started from
    args.redis = RedisServer().start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        targets = start_targets(args, root, model_dir, procs)
        for target in targets.values():
            t.check_answers(target, expected)
        args.load_start = os.getloadavg()
        rounds = run_rounds(targets, args)
        args.load_end = os.getloadavg()
    except BaseException:
        print(f"failed; servers' logs are in {root}", file=sys.stderr)
        raise
    finally:
        for proc in reversed(procs):
            stop_process_group(proc)
        args.redis.stop()
        if args.venv_cache is None:  # the logs stay on failure, not a GB of venvs
            shutil.rmtree(cache, ignore_errors=True)
    args.host = (
        f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, "
        f"Python {platform.python_version()}"
    )
    args.total_s = time.perf_counter() - started
    report(rounds, args)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
