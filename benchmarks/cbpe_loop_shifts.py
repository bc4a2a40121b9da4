"""The end-to-end tests' shifts through the accuracy estimate: does each retrain policy still
retrain where ``tests/e2e/test_loop.py`` (inverted digits) and ``tests/e2e/test_news_loop.py``
(15% of the letters of training articles garbled) expect a retrain?

Trains the digits and the news model as ``mlops-train`` does (``task=digits``, ``task=news``) into
throwaway stores (or reads ``--digits-tracking-uri`` / ``--news-tracking-uri``), then, as the
tests send them, puts the clean rows first and the shifted rows after them into one window (the
drift service's 1000 rows) and reports, per number of shifted rows in the window, the estimated
drop (CBPE with the version's calibration, against its reference) and the drift verdict. The
figures are quoted in ``benchmarks/results/cbpe.md``.

    .venv/bin/python benchmarks/cbpe_loop_shifts.py
"""

from __future__ import annotations

import argparse
import logging
import random
import string
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from news_drift_detection import NewsScorer, from_registry

from mlops_common.calibration import CALIBRATION_ARTIFACT, ConfidenceCalibration
from mlops_common.model_spec import ModelSpec
from mlops_drift.columns import MonitoredColumns
from mlops_drift.detector import check_drift
from mlops_drift.estimate import estimate_performance

WINDOW = 1000
STEPS = (0, 50, 100, 150, 200, 300, 400)


def train(task: str) -> str:
    """Train ``task``'s model into a throwaway store; its tracking URI."""
    from mlops_trainer.config import compose_config
    from mlops_trainer.pipeline import run_pipeline
    from mlops_trainer.settings import TrainerSettings

    logging.disable(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix=f"cbpe-loop-{task}-"))
    settings = TrainerSettings(
        state_dir=folder / "state",
        mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        artifact_root=folder / "artifacts",
    )
    run_pipeline(compose_config([f"task={task}", "trainer.enable_progress_bar=false"]), settings)
    return settings.tracking_uri


def production(uri: str, name: str) -> tuple[Path, ModelSpec, pd.DataFrame, ConfidenceCalibration]:
    """The production version's ONNX file, spec, reference and calibration."""
    folder = Path(tempfile.mkdtemp(prefix="cbpe-loop-"))
    model, spec, reference = from_registry(uri, name, "production", folder)
    run_id = MlflowClient(tracking_uri=uri).get_model_version_by_alias(name, "production").run_id
    path = download_artifacts(
        run_id=run_id, artifact_path=CALIBRATION_ARTIFACT, dst_path=str(folder), tracking_uri=uri
    )
    calibration = ConfidenceCalibration.model_validate_json(Path(path).read_text())
    return model, spec, pd.read_csv(reference), calibration


def sweep(spec: ModelSpec, reference: pd.DataFrame, calibration: ConfidenceCalibration,
          clean: pd.DataFrame, shifted: pd.DataFrame) -> list[str]:  # fmt: skip
    """Drop and verdict per number of shifted rows after the clean ones in the window."""
    columns = MonitoredColumns.from_spec(spec)
    assert columns.confidence is not None
    rows = []
    for k in STEPS:
        window = pd.concat([clean, shifted.iloc[:k]]).tail(WINDOW)
        estimate = estimate_performance(
            window[columns.confidence], reference[columns.confidence], calibration
        )
        verdict = check_drift(reference, window, columns=columns)
        rows.append(f"{estimate.drop:+.3f} / {'yes' if verdict.drift_detected else 'no'}")
    return rows


def garbled(text: str, rng: random.Random, rate: float = 0.15) -> str:
    """The news test's garbling: each letter replaced by a random one with probability ``rate``."""
    return "".join(
        rng.choice(string.ascii_lowercase) if c.isalpha() and rng.random() < rate else c
        for c in text
    )


def main() -> None:
    """Print the table (markdown)."""
    from sklearn.datasets import load_digits

    from mlops_trainer.news_data import load_text_split

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--digits-tracking-uri")
    parser.add_argument("--news-tracking-uri")
    args = parser.parse_args()
    digits_uri = args.digits_tracking_uri or train("digits")
    news_uri = args.news_tracking_uri or train("news")

    model, spec, reference, calibration = production(digits_uri, "digits-classifier")
    x = load_digits().data.astype(np.float32)
    clean, inverted = (digits_frame(model, spec, rows) for rows in (x[:400], 16.0 - x[400:900]))
    digits = sweep(spec, reference, calibration, clean, inverted)

    model, spec, reference, calibration = production(news_uri, "news-classifier")
    scorer = NewsScorer(model, spec)
    split, _manifest = load_text_split("bbc", seed=42, val_fraction=0.1, test_fraction=0.2)
    rng = random.Random(0)
    texts = [garbled(text, rng) for text in split.x_train[:400].tolist()]
    news = sweep(spec, reference, calibration, scorer.frame(split.x_test.tolist()),
                 scorer.frame(texts))  # fmt: skip

    print("| shifted rows in the window | digits (inverted): drop / drift | "
          "news (15% garbled training articles): drop / drift |")  # fmt: skip
    print("|---:|---|---|")
    for k, d, n in zip(STEPS, digits, news, strict=True):
        print(f"| {k} | {d} | {n} |")


def digits_frame(model: Path, spec: ModelSpec, rows: np.ndarray) -> pd.DataFrame:
    """Digits rows answered by the ONNX ``model``, in the reference layout of ``spec``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    (answer,) = session.run([spec.output.tensor], {spec.input.tensor: rows.astype(np.float32)})
    probabilities = np.asarray(answer, dtype=np.float64)
    columns = MonitoredColumns.from_spec(spec)
    assert columns.prediction is not None
    assert columns.confidence is not None
    frame = pd.DataFrame(rows.astype(np.float64), columns=list(columns.features))
    frame[columns.prediction] = probabilities.argmax(axis=1)
    frame[columns.confidence] = probabilities.max(axis=1)
    return frame


if __name__ == "__main__":
    main()
