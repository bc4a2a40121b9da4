"""Time of one drift check (the service's verdict) over windows of 200 to 5,000 rows.

The reference is scikit-learn's digits (with a logistic regression's predictions); windows are
rows drawn from the digits with light noise. Prints a table and saves it to
``benchmarks/results/drift_check_speed.md``. Target: a 5,000-row window in ≤ 5 s on 2 cores.

    .venv/bin/python benchmarks/drift_check_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from _drift_simulation import frame
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from mlops_drift.detector import check_drift, render_report, warm_up

RESULTS = Path(__file__).parent / "results" / "drift_check_speed.md"
SIZES = (200, 1000, 5000)


def main() -> None:
    """Time checks per window size and print/save the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--report", action="store_true", help="also time the HTML report")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    x, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=3000).fit(x[:900] / 16.0, y[:900])
    reference = frame(x[:900], y[:900], model.predict_proba(x[:900] / 16.0))
    rng = np.random.default_rng(0)
    warm_up()
    check_drift(reference, reference.head(200))  # first-call costs out of the timings
    lines = [
        f"reference {len(reference)} rows; {args.repeats} checks per size",
        "",
        "| window rows | median s | min s | max s | target |",
        "|---:|---:|---:|---:|---|",
    ]
    for size in SIZES:
        index = rng.integers(900, len(x), size)
        noisy = np.clip(x[index] + rng.normal(0, 0.5, (size, 64)), 0, 16)
        window = frame(noisy, y[index], model.predict_proba(noisy / 16.0))
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            check_drift(reference, window)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        target = ("≤ 5 s " + ("✓" if median <= 5 else "✗")) if size == 5000 else ""
        lines.append(f"| {size} | {median:.2f} | {min(times):.2f} | {max(times):.2f} | {target} |")
        if args.report and size == SIZES[-1]:
            started = time.perf_counter()
            render_report(reference, window)
            lines.append(
                f"\nfull HTML report of the {size}-row window: "
                f"{time.perf_counter() - started:.1f} s (built on request, cached)"
            )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    footer = (
        f"\n\n{platform.node()}: {os.cpu_count()} CPUs, load average {load:.1f} at the end "
        "(CPU shared with other work: timings are noisy)"
    )
    text = "\n".join(lines) + footer
    print(text)
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text("# Drift check speed\n\n" + text + "\n")


if __name__ == "__main__":
    main()
