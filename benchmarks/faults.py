"""The fault suite: the ``make up`` stack under steady load, one fault at a time, with figures.

Starts the local stack exactly as ``make up`` does (``scripts/stack.py`` over a fresh state
folder: the first start trains the built-in models), drives predictions with their feedback
labels from four lanes (40 requests/s, a 5 s client deadline), and injects, one after another:

- SIGKILL of inference, of the gateway, of drift, of MLflow, of Redis (supervisord starts each
  again);
- a hot swap under load (a new valid version promoted), a corrupt model promoted;
- Redis out of memory (``maxmemory`` set below its size for a few seconds);
- SIGKILL of the retraining worker's job process mid-job (Celery redelivers the job).

For each it prints the answers by status, the time from the fault to the first error, the
outage, the time from the restarted process to 200s again, the slowest answer (nothing may hang
past the deadline), traffic entries and feedback labels lost (acknowledged, then missing from
Redis), and which other services supervisord had to restart. The table is saved to
``benchmarks/results/faults.md``.

    .venv/bin/python benchmarks/faults.py [--only inference,redis] [--state DIR]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import _fault_scenarios as faults  # noqa: E402
from _fault_jobs import worker_killed_mid_job  # noqa: E402
from _fault_load import FaultLoad  # noqa: E402
from stack_control import run_stack  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "faults.md"
ENV = {
    "LOG_LEVEL": "INFO",  # the worker's "Task … received" lines count the job's deliveries
    "TRAINER_RETRAIN_OVERRIDES": "trainer=fast",
    "INFERENCE_POLL_INTERVAL_S": "2",
    "DRIFT_RETRAIN_ENABLED": "false",  # only the suite retrains
}
Scenario = Callable[[faults.FaultContext], faults.FaultResult]
SCENARIOS: dict[str, Scenario] = {
    "inference": lambda ctx: faults.kill_and_restart(ctx, "inference"),
    "gateway": lambda ctx: faults.kill_and_restart(ctx, "gateway"),
    "drift": faults.kill_drift,
    "mlflow": faults.mlflow_down,
    "redis": faults.kill_redis,
    "hot-swap": faults.hot_swap,
    "corrupt": faults.corrupt_promotion,
    "redis-oom": faults.redis_out_of_memory,
    "worker": worker_killed_mid_job,
}


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def report(results: list[faults.FaultResult], total_s: float) -> str:
    """The results as a Markdown table plus each scenario's notes."""
    head = (
        "| fault | predictions by status | feedback by status | first error ms | outage s | "
        "200s after restart s | slowest s | traffic lost / dropped | labels lost | "
        "others restarted |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in results:
        traffic = "—" if r.traffic_lost is None else f"{r.traffic_lost} / {r.traffic_dropped}"
        rows.append(
            f"| {r.scenario} | {_counts(r.statuses)} | {_counts(r.feedback_statuses)} | "
            f"{_ms(r.first_error_ms)} | {_s(r.outage_s)} | {_s(r.back_after_restart_s)} | "
            f"{r.slowest_answer_s:.2f} | {traffic} | "
            f"{'—' if r.feedback_lost is None else r.feedback_lost} | "
            f"{_counts(r.other_restarts) or 'none'} |"
        )
    notes = "\n".join(f"- **{r.scenario}**: " + "; ".join(r.notes) for r in results if r.notes)
    machine = f"{platform.machine()}, {platform.python_version()}, {_cores()} cores"
    return (
        f"# Fault suite ({machine}; {total_s:.0f} s in all)\n\n"
        "Load: 40 predictions/s from 4 lanes, each answered one followed by its feedback label; "
        "client deadline 5 s. Times are from the fault.\n\n"
        + head
        + "\n".join(rows)
        + "\n\n"
        + notes
        + "\n"
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in counts.items())


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def main() -> int:
    """Run the chosen scenarios on a fresh (or given) state folder; print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--state", type=Path, help="a state folder to start from (kept)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
    digits = load_digits()
    rows, labels = digits.data.astype(np.float64), digits.target.astype(np.int64)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="faults-") as scratch:
        state = args.state or Path(scratch) / "state"
        with run_stack(state, ENV) as stack:
            stack.wait_for_line(r"stack: all healthy", timeout=900)
            print(f"faults: stack healthy after {time.monotonic() - started:.0f} s", flush=True)
            load = FaultLoad(stack.url("GATEWAY_PORT"), rows, labels)
            ctx = faults.FaultContext(stack, load, rows, labels, Path(scratch))
            results = []
            with load:
                for name in chosen:
                    print(f"faults: {name}…", flush=True)
                    results.append(SCENARIOS[name](ctx))
                    print(f"  {results[-1]}", flush=True)
    text = report(results, time.monotonic() - started)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
