"""Text drift detection suite: detection rate per text shift and false alarms on clean windows.

Runs a news model (its ONNX graph, under onnxruntime) on windows of BBC articles, clean and shifted
(:mod:`text_shifts`: headlines only, typos, a class-prior change, out-of-domain news), and checks
each window against the model's reference with the drift service's own verdict
(:func:`mlops_drift.detector.check_drift`, on the columns the spec monitors), then prints a table.

The model comes from the registry (its ``production`` version's ONNX model, spec and reference) or
from files (an ONNX file, a reference CSV and optionally its spec; without one the news spec is
built from the graph's outputs and the BBC classes)::

    .venv/bin/python benchmarks/news_drift_detection.py --tracking-uri http://localhost:5000 \
        --model news-classifier
    .venv/bin/python benchmarks/news_drift_detection.py --onnx model.onnx --reference features.csv

The windows are drawn from every BBC article (deduplicated), so they mix the model's training and
held-out articles; a reference of training rows only answers more confidently than that mix.
``--pool-reference`` replaces the given reference with the model's answers on a seeded half of the
articles (the windows then come from the other half), which compares like with like; ``--pool-csv``
draws the windows from given articles instead (``text``, ``label``: e.g. the model's test split).

With no model named (``make bench``), it trains the default news model into a throwaway store and
draws the windows from that model's test split (its reference is its validation articles: both
unseen in training), then saves the table to benchmarks/results/news_drift_detection.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from _drift_simulation import SuiteRow
from news_data import Articles, read_articles_csv, read_bbc, read_outside_news, split
from numpy.typing import NDArray
from text_shifts import TextShift, clean, text_shifts

from mlops_common.model_spec import (
    MODEL_SPEC_ARTIFACT,
    SOURCE_CONFIDENCE,
    SOURCE_LABEL,
    ModelSpec,
    load_spec,
)
from mlops_common.news_spec import EMBEDDING_OUTPUT, NEWS_MODEL_NAME, news_spec
from mlops_common.registry import ALIAS_PRODUCTION, REFERENCE_ARTIFACT, REFERENCE_LABEL_COLUMN
from mlops_drift.columns import MonitoredColumns
from mlops_drift.detector import DriftConfig, check_drift

RESULTS = Path(__file__).parent / "results" / "news_drift_detection.md"

BATCH = 128


class NewsScorer:
    """A news ONNX graph under onnxruntime: texts → rows in the reference layout of its spec."""

    def __init__(self, model: Path | bytes, spec: ModelSpec) -> None:
        import onnxruntime as ort

        source = str(model) if isinstance(model, Path) else model
        self.session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
        self.spec = spec

    def run(self, texts: Sequence[str]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The logged values (``spec.output_values``, ``[n, logged_width]``) and the
        probabilities (``[n, classes]``) of ``texts``."""
        spec = self.spec
        wanted = [spec.output.tensor, *spec.value_outputs]
        logged, probabilities = [], []
        for start in range(0, len(texts), BATCH):
            batch = np.asarray(list(texts[start : start + BATCH]), dtype=object)
            if spec.input.shape == [-1, 1]:
                batch = batch.reshape(-1, 1)
            answers = self.session.run(wanted, {spec.input.tensor: batch})
            outputs = dict(zip(wanted, answers, strict=True))
            n = len(batch)
            rows = {name: np.asarray(value).reshape(n, -1) for name, value in outputs.items()}
            logged.append(
                np.stack([rows[tensor][:, i] for tensor, i in spec.output_values], axis=1)
                if spec.output_values
                else np.empty((n, 0))
            )
            probabilities.append(rows[spec.output.tensor])
        if not logged:
            return np.empty((0, len(spec.output_values))), np.empty((0, len(spec.classes)))
        return (
            np.concatenate(logged).astype(np.float64),
            np.concatenate(probabilities).astype(np.float64),
        )

    def frame(self, texts: Sequence[str], labels: NDArray[np.int64] | None = None) -> pd.DataFrame:
        """``texts`` as the trainer's reference CSV holds them: the monitored columns in spec
        order (and ``label`` when ``labels`` are given)."""
        logged, probabilities = self.run(texts)
        table: dict[str, NDArray[np.float64] | NDArray[np.int64]] = {}
        for column in self.spec.monitored:
            if column.source == SOURCE_LABEL:
                table[column.name] = probabilities.argmax(axis=1).astype(np.int64)
            elif column.source == SOURCE_CONFIDENCE:
                table[column.name] = probabilities.max(axis=1)
            else:
                position = self.spec.logged_position(column)
                assert position is not None  # a text spec monitors outputs only
                table[column.name] = logged[:, position]
        if labels is not None:
            table[REFERENCE_LABEL_COLUMN] = np.asarray(labels, dtype=np.int64)
        return pd.DataFrame(table)


def run_text_suite(
    reference: pd.DataFrame,
    scorer: NewsScorer,
    pool: Articles,
    shifts: Mapping[str, TextShift],
    *,
    windows: Mapping[str, int],
    window_size: int = 200,
    config: DriftConfig | None = None,
    seed: int = 0,
) -> list[SuiteRow]:
    """Check ``windows[name]`` windows of each shift (``clean`` for none) of ``pool`` against
    ``reference``, on the columns ``scorer``'s spec monitors."""
    columns = MonitoredColumns.from_spec(scorer.spec)
    every: dict[str, TextShift] = {"clean": clean, **shifts}
    rows = []
    for name, count in windows.items():
        rng = np.random.default_rng([seed, len(name), sum(map(ord, name))])
        flagged, shares, seconds = 0, [], []
        families = np.zeros(3, dtype=int)
        for _ in range(count):
            texts, _labels = every[name](pool.texts, pool.labels, window_size, rng)
            verdict = check_drift(reference, scorer.frame(texts), config, columns=columns)
            flagged += int(verdict.drift_detected)
            families += (verdict.feature_drift, verdict.label_drift, verdict.confidence_drift)
            shares.append(verdict.drifted_share)
            seconds.append(verdict.duration_s)
        rows.append(
            SuiteRow(
                name,
                count,
                flagged,
                float(np.mean(shares)) if shares else 0.0,
                float(np.mean(seconds)) if seconds else 0.0,
                *(int(n) for n in families),
            )
        )
    return rows


def table(rows: list[SuiteRow], window_size: int, reference_size: int) -> str:
    """A markdown table of the suite's outcome."""
    lines = [
        f"window {window_size} texts, reference {reference_size} rows",
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


def spec_from_graph(model: Path, classes: Sequence[str]) -> ModelSpec:
    """The news spec of a graph without a spec file: its embedding width read off one answer."""
    probe = NewsScorer(model, news_spec(classes=classes, embedding_dim=1))
    (embedding,) = probe.session.run([EMBEDDING_OUTPUT], {"text": np.asarray(["news"], object)})
    return news_spec(
        classes=classes, embedding_dim=int(np.asarray(embedding).reshape(1, -1).shape[1])
    )


def from_registry(
    tracking_uri: str, name: str, alias: str, folder: Path
) -> tuple[Path, ModelSpec, Path]:
    """The ONNX file, spec and reference CSV of ``name@alias``, downloaded into ``folder``."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    # models:/ URIs resolve through the global registry URI, not the tracking_uri argument.
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    version = client.get_model_version_by_alias(name, alias)
    model_folder = download_artifacts(
        artifact_uri=f"models:/{name}/{version.version}",
        dst_path=str(folder / "model"),
        tracking_uri=tracking_uri,
    )
    (model,) = sorted(Path(model_folder).rglob("*.onnx"))
    spec, reference = (
        Path(
            download_artifacts(
                run_id=version.run_id,
                artifact_path=artifact,
                dst_path=str(folder),
                tracking_uri=tracking_uri,
            )
        )
        for artifact in (MODEL_SPEC_ARTIFACT, REFERENCE_ARTIFACT)
    )
    return model, load_spec(spec), reference


def describe(reference: pd.DataFrame, pool: pd.DataFrame, spec: ModelSpec) -> str:
    """Means of the reference's and the clean pool's non-embedding columns, side by side: a
    reference of training rows answers more confidently than unseen articles do."""
    names = [
        column.name
        for column in spec.monitored
        if column.source != SOURCE_LABEL
        and (column.output_value is None or column.output_value[0] != EMBEDDING_OUTPUT)
    ]
    cells = [
        f"{name} {reference[name].mean():.3f} / {pool[name].mean():.3f}"
        for name in names
        if name in reference.columns
    ]
    return "means, reference / clean pool: " + "; ".join(cells)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="registered model name (with --tracking-uri)")
    source.add_argument("--onnx", type=Path, help="an ONNX news model file (with --reference)")
    parser.add_argument("--tracking-uri", help="MLflow tracking/registry URI")
    parser.add_argument("--alias", default=ALIAS_PRODUCTION)
    parser.add_argument("--reference", type=Path, help="reference CSV of --onnx")
    parser.add_argument("--spec", type=Path, help="model-spec.json of --onnx (else built)")
    parser.add_argument(
        "--pool-reference",
        action="store_true",
        help="reference from half the BBC articles instead of the given one",
    )
    parser.add_argument("--pool-csv", type=Path, help="draw windows from this CSV (text, label)")
    parser.add_argument("--windows", type=int, default=20, help="windows per shift")
    parser.add_argument("--clean-windows", type=int, default=20)
    parser.add_argument("--window-size", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--save", type=Path, help="also write the table (markdown) here (default without a "
        "model: benchmarks/results/news_drift_detection.md)",
    )  # fmt: skip
    args = parser.parse_args()  # fmt: skip
    if args.model and not args.tracking_uri:
        parser.error("--model needs --tracking-uri")
    if args.onnx and not (args.reference or args.pool_reference):
        parser.error("--onnx needs --reference (or --pool-reference)")
    return args


def train_default(args: argparse.Namespace, folder: Path) -> None:
    """No model named: train the default news model into a throwaway store (``task=news``) and
    draw the windows from its test split, articles it never saw (as ``make bench`` runs it)."""
    import csv
    import logging

    from mlops_trainer.config import compose_config
    from mlops_trainer.pipeline import run_pipeline
    from mlops_trainer.settings import TrainerSettings
    from mlops_trainer.train import load_data

    logging.disable(logging.WARNING)
    settings = TrainerSettings(
        state_dir=folder / "state",
        mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        artifact_root=folder / "artifacts",
    )
    cfg = compose_config(["task=news", "trainer.enable_progress_bar=false"])
    result = run_pipeline(cfg, settings=settings)
    split, manifest = load_data(cfg)
    pool = folder / "test_split.csv"
    with pool.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(
            (text, manifest.classes[label])
            for text, label in zip(split.x_test.tolist(), split.y_test, strict=True)
        )
    args.model, args.tracking_uri, args.pool_csv = NEWS_MODEL_NAME, settings.tracking_uri, pool
    args.save = args.save or RESULTS
    print(
        f"trained {NEWS_MODEL_NAME} version {result.version}; windows from its test split",
        flush=True,
    )


def main() -> None:
    """Run the suite on the model the arguments name and print the table."""
    args = _arguments()
    if not (args.model or args.onnx):
        train_default(args, Path(tempfile.mkdtemp(prefix="news-drift-model-")))
    articles = read_bbc()
    with tempfile.TemporaryDirectory(prefix="news-drift-") as folder:
        if args.model:
            model, spec, reference_csv = from_registry(
                args.tracking_uri, args.model, args.alias, Path(folder)
            )
        else:
            model, reference_csv = args.onnx, args.reference
            spec = load_spec(args.spec) if args.spec else spec_from_graph(model, articles.classes)
        scorer = NewsScorer(model, spec)
        pool = read_articles_csv(args.pool_csv, spec.classes) if args.pool_csv else articles
        if args.pool_reference:
            half, pool = split(pool, [0.5, 0.5], seed=args.seed)
            reference = scorer.frame(half.texts, half.labels)
        else:
            reference = pd.read_csv(reference_csv)
    shifts = text_shifts(read_outside_news())
    windows = {"clean": args.clean_windows, **dict.fromkeys(shifts, args.windows)}
    started = time.perf_counter()
    rows = run_text_suite(
        reference, scorer, pool, shifts, windows=windows, window_size=args.window_size,
        seed=args.seed,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    text = table(rows, args.window_size, len(reference)) + (
        f"\n\nmodel {args.model or args.onnx}; pool {len(pool)} articles "
        f"({args.pool_csv or 'BBC'}); "
        f"{describe(reference, scorer.frame(pool.texts), spec)}\n\nconfig: {DriftConfig()}\n\n"
        f"{sum(windows.values())} windows in {elapsed:.1f} s"
    )
    print(text)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text("# Text drift detection suite\n\n" + text + "\n")


if __name__ == "__main__":
    main()
