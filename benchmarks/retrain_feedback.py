"""Retraining on feedback: does a model retrained with labels of shifted traffic serve it better?

    .venv/bin/python benchmarks/retrain_feedback.py [--rows 400] [hydra overrides...]

A throwaway MLflow store and a private ``redis-server``. The old model is the default config
trained on the clean digits (``mlops-train bootstrap``). For each shift of
``_drift_simulation`` (inverted intensities, translation by 1–2 px), ``--rows`` rows of the
digits' *training* part are shifted, "predicted" by the old model and written to Redis as the
gateway writes traffic and feedback (``traffic`` stream, prediction-id index,
``feedback`` hash); then the retraining job runs (``mlops_trainer.retrain.run_retrain``, the
worker's code path minus Celery) and the old and new models are compared on the digits' *test*
part, clean and shifted (rows neither model saw). Production is rolled back to the old model
between shifts. Prints a table and saves it to benchmarks/results/retrain_feedback.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import redis
from _drift_simulation import inverted, translated

from mlops_common import promotion
from mlops_common.registry import PRODUCTION_URI
from mlops_common.testing.servers import RedisServer
from mlops_common.testing.traffic import write_labelled_traffic
from mlops_trainer import registry
from mlops_trainer.config import compose_config
from mlops_trainer.evaluate import evaluate_onnx
from mlops_trainer.export import onnx_proba, onnx_session
from mlops_trainer.pipeline import run_pipeline
from mlops_trainer.retrain import run_retrain
from mlops_trainer.settings import TrainerSettings
from mlops_trainer.train import load_data

RESULTS = Path(__file__).parent / "results" / "retrain_feedback.md"
SHIFTS = {"inverted": inverted, "translation": translated}


def write_feedback(db: redis.Redis, x: np.ndarray, y: np.ndarray, model: Path) -> None:
    """Traffic entries answered by ``model`` plus a true label for each, as the gateway writes."""
    probabilities = onnx_proba(onnx_session(model), x.astype(np.float32))
    write_labelled_traffic(db, x, y, probabilities)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=400, help="feedback-labelled rows per shift")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of both trainings")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    overrides = ["trainer.enable_progress_bar=false", *args.overrides]
    tmp = Path(tempfile.mkdtemp(prefix="retrain-bench-"))
    server = RedisServer().start()
    db = redis.Redis.from_url(server.url)
    settings = TrainerSettings(
        state_dir=tmp / "state",
        mlflow_tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
        artifact_root=tmp / "artifacts",
        retrain_overrides=args.overrides,
        redis_url=server.url,
    )
    os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri
    try:
        old = run_pipeline(compose_config(overrides), settings=settings)
        client = registry.make_client(settings.tracking_uri)
        old_path = registry.download_model(PRODUCTION_URI, tmp / "old")
        split, _ = load_data(compose_config(overrides))
        rng = np.random.default_rng(0)
        rows = []
        for name, shift in SHIFTS.items():
            promotion.promote(client, str(old.version))
            db.flushdb()
            x_fb, y_fb = shift(split.x_train, split.y_train, args.rows, rng)
            write_feedback(db, x_fb, y_fb, old_path)
            x_test, y_test = shift(split.x_test, split.y_test, len(split.y_test), rng)
            started = time.perf_counter()
            result = run_retrain(
                f"benchmark: {name}", [], job_id=f"bench-{name}", settings=settings, redis=db
            )
            wall = time.perf_counter() - started
            new_path = registry.download_model(
                f"models:/digits-classifier/{result['version']}", tmp / f"new-{name}"
            )
            rows.append(
                {
                    "shift": name,
                    "old_shifted": evaluate_onnx(old_path, x_test, y_test)["test_accuracy"],
                    "new_shifted": evaluate_onnx(new_path, x_test, y_test)["test_accuracy"],
                    "old_clean": evaluate_onnx(old_path, split.x_test, split.y_test)[
                        "test_accuracy"
                    ],
                    "new_clean": evaluate_onnx(new_path, split.x_test, split.y_test)[
                        "test_accuracy"
                    ],
                    "promoted": result["promoted"],
                    "version": result["version"],
                    "feedback": result["feedback"],
                    "wall": wall,
                    "reason": result["reason"],
                }
            )
    finally:
        db.close()
        server.stop()
    report(rows, args.rows, args.overrides or ["(default)"], len(split.y_test))


def report(rows: list[dict[str, object]], n_rows: int, overrides: list[str], n_test: int) -> None:
    """Print the table and save it."""
    load = os.getloadavg()[0]
    lines = [
        "# Retraining on feedback-labelled shifted traffic",
        "",
        f"Old model: config `{' '.join(overrides)}` trained on the clean digits. Per shift, "
        f"{n_rows} shifted rows of the digits' training part carry feedback labels; the job "
        "(`run_retrain`, the worker's code path) trains on digits + feedback, judges candidate "
        "and production on the digits' test split + the held-out feedback slice, and promotes "
        f"by the rule. Accuracies below are on the digits' test part ({n_test} rows, never "
        "trained on), shifted and clean. 2 CPU cores shared with other work "
        f"(load average {load:.1f}); wall times are upper bounds.",
        "",
        "| shift | old acc. (shifted) | new acc. (shifted) | old acc. (clean) | new acc. (clean) "
        "| feedback rows train/val/test | promoted | job wall (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        fb = row["feedback"]
        assert isinstance(fb, dict)
        lines.append(
            f"| {row['shift']} | {row['old_shifted']:.4f} | **{row['new_shifted']:.4f}** "
            f"| {row['old_clean']:.4f} | {row['new_clean']:.4f} "
            f"| {fb['train_rows']}/{fb['val_rows']}/{fb['test_rows']} "
            f"| {row['promoted']} (v{row['version']}) | {row['wall']:.1f} |"
        )
    lines += ["", "Decisions as the job explained them:", ""]
    lines += [f"- {row['shift']}: {row['reason']}" for row in rows]
    lines += [
        "",
        "Training feedback rows are repeated `TRAINER_FEEDBACK_REPEAT` (3) times, so the count "
        "above is 3 × the unique rows.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
