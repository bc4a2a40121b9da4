"""CBPE suite: the drift service's label-free accuracy estimate against the realised accuracy,
per shift, and which retrain policy would retrain on each shift.

Digits (always): scikit-learn's bundled digits split as the drift detection suite splits them —
a logistic regression's training rows (40%), validation rows (25%: the calibration is fitted on
them with the trainer's own :func:`mlops_trainer.calibration.fit_calibration`) and the held-out
pool (35%) the windows are drawn from, clean and under each shift of :mod:`_drift_simulation`.
The reference is a sample of the training rows, as the trainer registers it for digits
(``--reference held-out``: the validation rows instead).

News (unless ``--no-news``): the default news model trained into a throwaway store (as
``news_drift_detection.py`` trains it, a few minutes; ``--news-tracking-uri`` and ``--news-pool``
use a registered one), its registered reference and calibration, windows of its test split under
each shift of :mod:`text_shifts`, plus ``typos_15`` (15% of the letters garbled, as the end-to-end
news test garbles them) and ``typos_15_train`` (the same on articles outside the test split, the
model's training and validation ones, as that test sends its training articles).

Prints a table per suite and writes it to ``benchmarks/results/cbpe.md`` (unless ``--no-save``),
keeping what follows the notes marker there (the reading of the figures).

    .venv/bin/python benchmarks/cbpe.py --clean-windows 100   # as results/cbpe.md was made
    .venv/bin/python benchmarks/cbpe.py --no-news --no-save   # digits only, a few seconds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _cbpe_suite import ShiftOutcome, run_cbpe_suite, table, window_rows
from _drift_simulation import SHIFTS, clean, frame
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from mlops_common.calibration import ConfidenceCalibration
from mlops_drift.columns import MonitoredColumns
from mlops_drift.detector import DriftConfig
from mlops_drift.estimate import RetrainPolicy, RetrainRule
from mlops_trainer.calibration import fit_calibration

RESULTS = Path(__file__).parent / "results" / "cbpe.md"
NOTES = "<!-- notes: kept when the tables are rewritten -->"
REFERENCE_ROWS = 500  # the trainer's reference.rows


def digits_setup(reference_from: str, seed: int = 0) -> tuple[Any, ...]:
    """Reference, calibration, pool and model of the digits suite, and the calibration's checks."""
    features, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(features))
    x, y = features[order].astype(np.float64), labels[order].astype(np.int64)
    n_train, n_val = int(0.40 * len(x)), int(0.25 * len(x))
    model = LogisticRegression(max_iter=3000).fit(x[:n_train] / 16.0, y[:n_train])

    def predict(rows: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_proba(rows / 16.0), dtype=np.float64)

    val_x, val_y = x[n_train : n_train + n_val], y[n_train : n_train + n_val]
    pool_x, pool_y = x[n_train + n_val :], y[n_train + n_val :]
    calibration, metrics = fit_calibration(
        predict(val_x).astype(np.float32), val_y, predict(pool_x).astype(np.float32), pool_y
    )
    if reference_from == "train":
        ref_x, ref_y = x[: min(REFERENCE_ROWS, n_train)], y[: min(REFERENCE_ROWS, n_train)]
    else:
        ref_x, ref_y = val_x, val_y
    reference = frame(ref_x, ref_y, predict(ref_x))
    return reference, calibration, metrics, pool_x, pool_y, predict


def run_digits(args: argparse.Namespace, rule: RetrainRule) -> tuple[str, list[ShiftOutcome]]:
    """The digits suite's section of the results."""
    reference, calibration, metrics, pool_x, pool_y, predict = digits_setup(args.reference)
    shifts = {"clean": clean, **SHIFTS}

    def draw(name: str, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        x, y = shifts[name](pool_x, pool_y, args.window_size, rng)
        return frame(x, y, predict(x)), y

    windows = {"clean": args.clean_windows, **dict.fromkeys(SHIFTS, args.windows)}
    outcomes = run_cbpe_suite(
        reference.drop(columns=["label"]),
        MonitoredColumns.infer(reference.drop(columns=["label"])),
        calibration,
        draw,
        windows,
        rule=rule,
        config=DriftConfig(),
        seed=args.seed,
    )
    head = (
        f"## Digits (logistic regression; reference: {len(reference)} {args.reference} rows; "
        f"calibration fitted on {calibration.fitted_rows} validation rows; window "
        f"{args.window_size})\n\nOn the held-out pool: ECE raw {metrics['test_ece_raw']:.3f} → "
        f"calibrated {metrics['test_ece_calibrated']:.3f}; CBPE {metrics['test_cbpe_accuracy']:.3f}"
        f" (raw confidence {metrics['test_cbpe_accuracy_raw']:.3f})\n\n"
    )
    return head + table(outcomes, calibration), outcomes


def news_setup(args: argparse.Namespace, folder: Path) -> tuple[Any, ...]:
    """The news model's scorer, reference, calibration and pools (test split, training texts)."""
    from news_data import read_articles_csv, read_bbc, read_outside_news
    from news_drift_detection import NewsScorer, from_registry, train_default

    from mlops_common.calibration import CALIBRATION_ARTIFACT

    if args.news_tracking_uri is None:
        trained = argparse.Namespace(save=None)
        train_default(trained, Path(tempfile.mkdtemp(prefix="cbpe-news-model-")))
        args.news_tracking_uri, args.news_pool = trained.tracking_uri, trained.pool_csv
    model, spec, reference_csv = from_registry(
        args.news_tracking_uri, "news-classifier", "production", folder
    )
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    client = MlflowClient(tracking_uri=args.news_tracking_uri)
    run_id = client.get_model_version_by_alias("news-classifier", "production").run_id
    path = download_artifacts(
        run_id=run_id, artifact_path=CALIBRATION_ARTIFACT, dst_path=str(folder),
        tracking_uri=args.news_tracking_uri,
    )  # fmt: skip
    calibration = ConfidenceCalibration.model_validate_json(Path(path).read_text())
    pool = read_articles_csv(Path(args.news_pool), spec.classes)
    test_keys = set(pool.texts)
    every = read_bbc()
    train = [(t, int(c)) for t, c in zip(every.texts, every.labels, strict=True)
             if t not in test_keys]  # fmt: skip
    return (
        NewsScorer(model, spec),
        pd.read_csv(reference_csv),
        calibration,
        pool,
        train,
        (read_outside_news()),
    )


def run_news(args: argparse.Namespace, rule: RetrainRule) -> tuple[str, list[ShiftOutcome]]:
    """The news suite's section of the results."""
    from text_shifts import clean as text_clean
    from text_shifts import text_shifts, typos

    with tempfile.TemporaryDirectory(prefix="cbpe-news-") as folder:
        scorer, reference, calibration, pool, train, outside = news_setup(args, Path(folder))
    shifts = {"clean": text_clean, **text_shifts(outside), "typos_15": partial(typos, rate=0.15)}
    train_texts = [t for t, _ in train]
    train_labels = np.asarray([c for _, c in train], dtype=np.int64)

    def draw(name: str, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        if name == "typos_15_train":
            texts, y = typos(train_texts, train_labels, args.window_size, rng, rate=0.15)
        else:
            texts, y = shifts[name](pool.texts, pool.labels, args.window_size, rng)
        return scorer.frame(texts), np.asarray(y, dtype=np.int64)

    names = [*shifts, "typos_15_train"]
    windows = {n: args.clean_windows if n == "clean" else args.windows for n in names}
    columns = MonitoredColumns.from_spec(scorer.spec)
    outcomes = run_cbpe_suite(
        reference, columns, calibration, draw, windows, rule=rule, config=DriftConfig(),
        seed=args.seed,
    )  # fmt: skip
    head = (
        f"## News (the default news model; reference: its {len(reference)} registered rows; "
        f"calibration fitted on {calibration.fitted_rows} validation rows; windows of "
        f"{args.window_size} texts from its {len(pool.texts)}-article test split)\n\n"
        f"Registered calibration: ECE raw {calibration.ece_raw:.3f} → calibrated "
        f"{calibration.ece_calibrated:.3f} on the test split\n\n"
    )
    return head + table(outcomes, calibration), outcomes


def main() -> None:
    """Run the suites and print (and with ``--save`` write) the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--windows", type=int, default=20, help="windows per shift")
    parser.add_argument("--clean-windows", type=int, default=20)
    parser.add_argument("--window-size", type=int, default=200)
    parser.add_argument("--reference", choices=["train", "held-out"], default="train")
    parser.add_argument("--drop", type=float, default=RetrainRule().drop)
    parser.add_argument(
        "--min-drop-with-drift", type=float, default=RetrainRule().min_drop_with_drift
    )
    parser.add_argument("--no-news", action="store_true", help="skip the news suite")
    parser.add_argument("--news-tracking-uri", help="registry holding news-classifier@production")
    parser.add_argument("--news-pool", help="CSV (text, label) of its test split")
    parser.add_argument("--per-window", action="store_true", help="print each window's pair")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-save", action="store_true", help=f"do not write {RESULTS}")
    args = parser.parse_args()
    if args.news_tracking_uri and not args.news_pool:
        parser.error("--news-tracking-uri needs --news-pool")
    rule = RetrainRule(RetrainPolicy.DRIFT, args.drop, args.min_drop_with_drift)
    started = time.perf_counter()
    sections = [run_digits(args, rule)]
    if not args.no_news:
        sections.append(run_news(args, rule))
    text = "\n\n".join(section for section, _ in sections)
    if args.per_window:
        text += "\n\n" + "\n".join(window_rows(outcomes) for _, outcomes in sections)
    text += (
        f"\n\nretrain thresholds: drop ≥ {rule.drop:g}; with drift ≥ {rule.min_drop_with_drift:g}"
        f"\n\n{time.perf_counter() - started:.0f} s; rerun: "
        f"`.venv/bin/python benchmarks/cbpe.py {' '.join(sys.argv[1:])}`"
    )
    print(text)
    if not args.no_save:
        old = RESULTS.read_text() if RESULTS.exists() else ""
        notes = old[old.index(NOTES) :] if NOTES in old else NOTES + "\n"
        RESULTS.write_text(f"# CBPE: label-free accuracy estimate\n\n{text}\n\n{notes}")


if __name__ == "__main__":
    main()
