"""Trainer baseline: default-config CNN vs an SVC(RBF) on the same split, wall time, determinism,
ONNX parity. Prints a table and saves it to benchmarks/results/trainer_baseline.md.

    .venv/bin/python benchmarks/trainer_baseline.py [hydra overrides...]

Runs the real pipeline (train → evaluate → export → parity → register) into a throwaway MLflow
store, then again with the same seed (without registering) to check the metrics repeat.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()

from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from mlops_trainer.config import compose_config  # noqa: E402
from mlops_trainer.pipeline import run_pipeline  # noqa: E402
from mlops_trainer.settings import TrainerSettings  # noqa: E402
from mlops_trainer.train import load_data  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "trainer_baseline.md"


def main(overrides: list[str]) -> None:
    logging.disable(logging.WARNING)
    imported = time.perf_counter() - STARTED
    cfg = compose_config([*overrides, "trainer.enable_progress_bar=false"])
    split, manifest = load_data(cfg)

    started = time.perf_counter()
    svc = SVC(kernel="rbf", gamma="scale").fit(split.x_train, split.y_train)
    svc_pred = svc.predict(split.x_test)
    svc_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        settings = TrainerSettings(state_dir=Path(tmp), mlflow_tracking_uri="")
        first = run_pipeline(cfg, settings=settings)
        again_cfg = compose_config(
            [*overrides, "trainer.enable_progress_bar=false", "registry.register=false"]
        )
        again = run_pipeline(again_cfg, settings=settings)

    acc, f1 = first.metrics["test_accuracy"], first.metrics["test_f1"]
    svc_acc = float(accuracy_score(split.y_test, svc_pred))
    svc_f1 = float(f1_score(split.y_test, svc_pred, average="macro"))
    same = again.metrics == first.metrics
    parity = first.parity
    cores = len(os.sched_getaffinity(0))
    lines = [
        "# Trainer baseline",
        "",
        f"Config overrides: `{' '.join(overrides) or '(default)'}`; split {manifest.sizes} "
        f"(seed {cfg.seed}, data hash `{manifest.content_hash[:12]}`); {cores} CPU cores visible, "
        "shared with other work running at the same time "
        f"(load average {os.getloadavg()[0]:.1f}; timings are upper bounds).",
        "",
        "| model | test accuracy | test macro F1 | errors / 360 | fit wall (s) |",
        "|---|---|---|---|---|",
        f"| CNN `{cfg.model._target_.rsplit('.', 1)[-1]}` (width {cfg.model.width}, "
        f"{cfg.trainer.max_epochs} epochs) | {acc:.4f} | {f1:.4f} "
        f"| {round((1 - acc) * len(split.y_test))} | see below |",
        f"| SVC(RBF, gamma=scale) | {svc_acc:.4f} | {svc_f1:.4f} "
        f"| {int((svc_pred != split.y_test).sum())} | {svc_s:.2f} |",
        "",
        "| check | value | target | verdict |",
        "|---|---|---|---|",
        f"| CNN test accuracy | {acc:.4f} | ≥ 0.985 | {'pass' if acc >= 0.985 else 'FAIL'} |",
        f"| CNN vs SVC | {acc:.4f} vs {svc_acc:.4f} | CNN ≥ SVC | "
        f"{'pass' if acc >= svc_acc else 'FAIL'} |",
        f"| train + export + register wall | {first.duration_s:.1f} s (+{imported:.1f} s imports) "
        f"| ≤ 90 s | {'pass' if first.duration_s <= 90 else 'FAIL'} |",
        f"| same seed → same metrics | {again.metrics['test_accuracy']:.4f} / "
        f"{again.metrics['test_f1']:.4f} | identical | {'pass' if same else 'FAIL'} |",
        f"| ONNX vs PyTorch argmax mismatches | {parity['argmax_mismatches']} of "
        f"{parity['samples']} | 0 | {'pass' if parity['argmax_mismatches'] == 0 else 'FAIL'} |",
        f"| ONNX vs PyTorch max abs Δp | {parity['max_abs_diff']:.2e} | ≤ 1e-4 | "
        f"{'pass' if parity['max_abs_diff'] <= 1e-4 else 'FAIL'} |",
        f"| registered | version {first.version}, promoted {first.promoted} | staging set | "
        f"{'pass' if first.version else 'FAIL'} |",
    ]
    table = "\n".join(lines)
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table + "\n")
    print(f"\nsaved to {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
