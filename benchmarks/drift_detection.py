"""Drift detection suite: detection rate per shift and false-alarm rate on clean windows.

Splits scikit-learn's bundled digits three ways — a model's training rows, the reference sample
(with that model's predictions and confidences, as the trainer registers it) and a held-out pool
the windows are drawn from — then checks windows of clean and of shifted digits with the drift
service's own verdict (:func:`mlops_drift.detector.check_drift`) and prints a table, saved to
``benchmarks/results/drift_detection.md``.

    .venv/bin/python benchmarks/drift_detection.py                 # 20 windows per shift, size 200
    .venv/bin/python benchmarks/drift_detection.py --clean-windows 100
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from _drift_simulation import SHIFTS, SuiteRow, frame, run_suite
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from mlops_drift.detector import DriftConfig

RESULTS = Path(__file__).parent / "results" / "drift_detection.md"


def build(seed: int = 0):  # type: ignore[no-untyped-def]
    """Model, reference frame and held-out pool from the digits (40% / 25% / 35%)."""
    features, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(features))
    features, labels = features[order].astype(np.float64), labels[order].astype(np.int64)
    n_train, n_ref = int(0.40 * len(features)), int(0.25 * len(features))
    model = LogisticRegression(max_iter=3000)
    model.fit(features[:n_train] / 16.0, labels[:n_train])

    def predict(x: np.ndarray) -> np.ndarray:
        return model.predict_proba(x / 16.0)

    ref_x, ref_y = features[n_train : n_train + n_ref], labels[n_train : n_train + n_ref]
    reference = frame(ref_x, ref_y, predict(ref_x))
    pool = features[n_train + n_ref :], labels[n_train + n_ref :]
    return reference, pool, predict


def table(rows: list[SuiteRow], window_size: int, reference_size: int) -> str:
    """A markdown table of the suite's outcome."""
    lines = [
        f"window {window_size} rows, reference {reference_size} rows",
        "",
        "| shift | windows | flagged | rate | target | by features / labels / confidence "
        "| mean drifted share | mean check s |",
        "|---|---:|---:|---:|---|---|---:|---:|",
    ]
    for row in rows:
        target = "false alarms ≤ 5%" if row.shift == "clean" else "detection ≥ 90%"
        ok = row.rate <= 0.05 if row.shift == "clean" else row.rate >= 0.90
        lines.append(
            f"| {row.shift} | {row.windows} | {row.flagged} | {row.rate:.0%} | "
            f"{target} {'✓' if ok else '✗'} | "
            f"{row.by_features} / {row.by_labels} / {row.by_confidence} | "
            f"{row.mean_drifted_share:.3f} | {row.mean_check_s:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the suite and print/save the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20, help="windows per shift")
    parser.add_argument("--clean-windows", type=int, default=20, help="clean windows")
    parser.add_argument("--window-size", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    reference, (pool_x, pool_y), predict = build(args.seed)
    windows = {"clean": args.clean_windows, **dict.fromkeys(SHIFTS, args.windows)}
    started = time.perf_counter()
    rows = run_suite(
        reference,
        pool_x,
        pool_y,
        predict,
        window_size=args.window_size,
        windows=windows,
        config=DriftConfig(),
        seed=args.seed,
    )
    elapsed = time.perf_counter() - started
    text = table(rows, args.window_size, len(reference))
    footer = (
        f"\n\nconfig: {DriftConfig()}\n\n{sum(windows.values())} checks in {elapsed:.1f} s on "
        f"{platform.node()} ({os.cpu_count()} CPUs, shared with other work: timings are noisy)"
    )
    print(text + footer)
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text("# Drift detection suite\n\n" + text + footer + "\n")


if __name__ == "__main__":
    main()
