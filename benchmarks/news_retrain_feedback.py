"""Retraining the news model on feedback: does it learn a shifted slice without losing the rest?

    .venv/bin/python benchmarks/news_retrain_feedback.py [--rows 400] [hydra overrides...]

A throwaway MLflow store and a private ``redis-server``. The old model is the default news model
(``task=news``) trained on the BBC articles. For each shift (a feed that sends headlines only;
typos: every letter garbled with probability 0.1), ``--rows`` articles of the *training* part are
shifted, answered by the old model's ONNX graph and written to Redis as the gateway writes text
traffic (the text and the logged output values) with a feedback label each; then the retraining
job runs (``mlops_trainer.retrain.run_retrain``, the worker's code path minus Celery) and the old
and new models are compared on the *test* part (425 articles neither model trained on), shifted
and clean. Production is moved back to the old model between shifts. Prints a table and saves
benchmarks/results/news_retrain_feedback.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import redis
from text_shifts import garble, headline

from mlops_common import promotion
from mlops_common.model_spec import ModelSpec
from mlops_common.news_spec import NEWS_MODEL_NAME
from mlops_common.testing.servers import RedisServer
from mlops_common.testing.traffic import write_labelled_traffic
from mlops_trainer import registry
from mlops_trainer.config import compose_config
from mlops_trainer.evaluate import evaluate_onnx
from mlops_trainer.export import onnx_session
from mlops_trainer.pipeline import run_pipeline
from mlops_trainer.retrain import run_retrain
from mlops_trainer.settings import TrainerSettings
from mlops_trainer.train import load_data

RESULTS = Path(__file__).parent / "results" / "news_retrain_feedback.md"
TYPO_RATE = 0.1


def _shifts() -> dict[str, Callable[[str, np.random.Generator], str]]:
    return {
        "headlines only": lambda text, rng: headline(text),
        f"typos ({TYPO_RATE:.0%} of letters)": lambda text, rng: garble(text, TYPO_RATE, rng),
    }


def write_feedback(
    db: redis.Redis, texts: list[str], labels: np.ndarray, model: Path, spec: ModelSpec
) -> None:
    """Text traffic answered by ``model`` (text + logged values) and a true label for each."""
    session = onnx_session(model)
    names = [output.name for output in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {"text": np.asarray(texts, object)}), strict=True))
    logged = np.stack(
        [outputs[tensor].reshape(len(texts), -1)[:, i] for tensor, i in spec.output_values], axis=1
    )
    write_labelled_traffic(
        db, logged, labels, outputs["probabilities"], model=spec.name, texts=texts
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=400, help="feedback-labelled rows per shift")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of both trainings")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    overrides = ["task=news", "trainer.enable_progress_bar=false", *args.overrides]
    tmp = Path(tempfile.mkdtemp(prefix="news-retrain-bench-"))
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
    rows = []
    try:
        old = run_pipeline(compose_config(overrides), settings=settings)
        client = registry.make_client(settings.tracking_uri)
        old_path = registry.download_model(f"models:/{NEWS_MODEL_NAME}/{old.version}", tmp / "old")
        spec = registry.version_spec(
            client, client.get_model_version(NEWS_MODEL_NAME, str(old.version))
        )
        assert spec is not None, "a trained news version carries its spec"
        split, _ = load_data(compose_config(overrides))
        rng = np.random.default_rng(0)
        take = rng.choice(len(split.y_train), size=args.rows, replace=False)
        test_texts = split.x_test.tolist()
        for name, shift in _shifts().items():
            promotion.promote(client, str(old.version), name=NEWS_MODEL_NAME)
            db.flushdb()
            feedback = [shift(str(split.x_train[i]), rng) for i in take]
            write_feedback(db, feedback, split.y_train[take], old_path, spec)
            shifted_test = np.asarray([shift(text, rng) for text in test_texts], object)
            started = time.perf_counter()
            result = run_retrain(
                f"benchmark: {name}", [], job_id=f"bench-{len(rows)}", settings=settings,
                redis=db, model=NEWS_MODEL_NAME,
            )  # fmt: skip
            wall = time.perf_counter() - started
            new_path = registry.download_model(
                f"models:/{NEWS_MODEL_NAME}/{result['version']}", tmp / f"new-{len(rows)}"
            )

            def accuracy(path: Path, texts: np.ndarray) -> float:
                return evaluate_onnx(path, texts, split.y_test)["test_accuracy"]

            rows.append(
                {
                    "shift": name,
                    "old_shifted": accuracy(old_path, shifted_test),
                    "new_shifted": accuracy(new_path, shifted_test),
                    "old_clean": accuracy(old_path, split.x_test),
                    "new_clean": accuracy(new_path, split.x_test),
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
    report(rows, args.rows, len(split.y_test))


def report(rows: list[dict[str, object]], n_rows: int, n_test: int) -> None:
    """Print the table and save it."""
    lines = [
        "# Retraining the news model on feedback-labelled shifted traffic",
        "",
        f"Old model: the default news model (`task=news`) trained on the BBC articles. Per shift, "
        f"{n_rows} shifted articles of the training part carry feedback labels (logged as the "
        "gateway logs text traffic); the job (`run_retrain`, the worker's code path) trains on "
        "the articles + feedback, judges candidate and production on the test part + the "
        "held-out feedback slice, and promotes by the rule. Accuracies below are on the test "
        f"part ({n_test} articles, never trained on), shifted and clean. 2 CPU cores shared with "
        f"other work (load average {os.getloadavg()[0]:.1f}); wall times are upper bounds.",
        "",
        "| shift | old acc. (shifted) | new acc. (shifted) | gain (pt) | old acc. (clean) "
        "| new acc. (clean) | change (pt) | promoted | job wall (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        gain = (float(row["new_shifted"]) - float(row["old_shifted"])) * 100  # type: ignore[arg-type]
        change = (float(row["new_clean"]) - float(row["old_clean"])) * 100  # type: ignore[arg-type]
        lines.append(
            f"| {row['shift']} | {row['old_shifted']:.4f} | **{row['new_shifted']:.4f}** "
            f"| {gain:+.1f} {'✓' if gain >= 10 else '✗'} (≥ +10) | {row['old_clean']:.4f} "
            f"| {row['new_clean']:.4f} | {change:+.1f} {'✓' if change >= -1 else '✗'} (≥ −1) "
            f"| {row['promoted']} (v{row['version']}) | {row['wall']:.1f} |"
        )
    lines += ["", "Decisions as the job explained them:", ""]
    lines += [f"- {row['shift']}: {row['reason']}" for row in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
