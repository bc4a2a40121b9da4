"""Evaluate a staged model version against production, then promote it or report why not.

Run by the model-registry workflow when a version gets the ``staging`` alias::

    python scripts/ci/evaluate_candidate.py --candidate 7 --promote --report report.md

For the candidate and the current production version it measures, with onnxruntime on the
registered ONNX artifacts: accuracy on the held-out test set (the trainer's split: the bundled
digits with the trainer's seed and fractions, or a prepared ``.npz``), ONNX parity (the
artifact reproduces the predictions and confidences recorded in its run's reference sample), and
latency at batch 1 and 64. The candidate is promoted (alias ``production``, through
:func:`mlops_common.promotion.promote`, so ``mlops-train rollback`` can take it back) when its
parity holds, its accuracy passes the promotion rule (at least production's plus ``--margin``,
:func:`mlops_common.promotion.should_promote`), and its p50 latency at each batch size is at most
production's times ``1 + --latency-tolerance``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import yaml
from numpy.typing import NDArray

from mlops_common import promotion
from mlops_common.features import FEATURE_NAMES
from mlops_common.registry import (
    ALIAS_PRODUCTION,
    ALIAS_STAGING,
    MODEL_NAME,
    ONNX_INPUT_NAME,
    REFERENCE_ARTIFACT,
    REFERENCE_CONFIDENCE_COLUMN,
    REFERENCE_PREDICTION_COLUMN,
)
from mlops_trainer.registry import make_client

ROOT = Path(__file__).resolve().parents[2]
BATCH_SIZES = (1, 64)
PARITY_ATOL = 1e-4


class EvaluationError(RuntimeError):
    """The evaluation cannot run (no such version, no artifact, bad data)."""


@dataclass
class ModelReport:
    """What was measured for one version."""

    version: str
    accuracy: float
    parity_ok: bool
    parity_detail: str
    latency_p50_ms: dict[int, float] = field(default_factory=dict)


def heldout_set(data: str) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """The test split: a prepared ``.npz`` (x_test, y_test) or the trainer's digits split."""
    if data.endswith(".npz"):
        with np.load(data) as npz:
            return npz["x_test"].astype(np.float32), npz["y_test"].astype(np.int64)
    if data != "digits":
        raise EvaluationError(f"--data must be 'digits' or a prepared .npz, got {data!r}")
    from mlops_trainer.data import load_split

    conf = ROOT / "services" / "trainer" / "conf"
    seed = int(yaml.safe_load((conf / "config.yaml").read_text())["seed"])
    split_conf = yaml.safe_load((conf / "data" / "digits.yaml").read_text())
    split, _ = load_split(
        "digits",
        seed=seed,
        val_fraction=float(split_conf["val_fraction"]),
        test_fraction=float(split_conf["test_fraction"]),
    )
    return split.x_test, split.y_test


def resolve_version(client: Any, name: str, version_or_alias: str) -> Any | None:
    """The ModelVersion for a number or an alias; None when the alias is not set."""
    from mlflow.exceptions import MlflowException

    if not version_or_alias.isdigit():
        return promotion.alias_version(client, version_or_alias, name)
    try:
        return client.get_model_version(name, version_or_alias)
    except MlflowException:
        raise EvaluationError(f"{name} has no version {version_or_alias}") from None


def load_session(tracking_uri: str, version: Any, workdir: Path) -> ort.InferenceSession:
    """Download the version's artifacts and open its ``.onnx`` file in onnxruntime."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    target = workdir / f"v{version.version}"
    local = Path(mlflow.artifacts.download_artifacts(version.source, dst_path=str(target)))
    files = sorted(local.rglob("*.onnx")) if local.is_dir() else [local]
    if not files:
        raise EvaluationError(f"version {version.version} holds no .onnx file ({version.source})")
    try:
        return ort.InferenceSession(str(files[0]), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise EvaluationError(f"version {version.version}: onnxruntime refuses it: {exc}") from exc


def predict(session: ort.InferenceSession, x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Class probabilities for ``x``."""
    result: NDArray[np.float32] = session.run(None, {ONNX_INPUT_NAME: x.astype(np.float32)})[0]
    return result


def parity(
    tracking_uri: str, session: ort.InferenceSession, run_id: str, workdir: Path
) -> tuple[bool, str]:
    """Compare the artifact's answers with the reference sample recorded in its run."""
    import mlflow

    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path=REFERENCE_ARTIFACT,
            dst_path=str(workdir / run_id),
            tracking_uri=tracking_uri,
        )
    except Exception as exc:
        return False, f"no reference sample at {REFERENCE_ARTIFACT} ({type(exc).__name__})"
    frame = pd.read_csv(path)
    probabilities = predict(session, frame[list(FEATURE_NAMES)].to_numpy(np.float32))
    same_label = probabilities.argmax(axis=1) == frame[REFERENCE_PREDICTION_COLUMN].to_numpy()
    delta = np.abs(probabilities.max(axis=1) - frame[REFERENCE_CONFIDENCE_COLUMN].to_numpy())
    ok = bool(same_label.all() and delta.max() <= PARITY_ATOL)
    detail = (
        f"{int(same_label.sum())}/{len(frame)} labels equal, max |Δconfidence| {delta.max():.2e}"
    )
    return ok, detail


def latency_p50_ms(session: ort.InferenceSession, batch: int, repeats: int) -> float:
    """Median wall time of one call at ``batch`` rows, in milliseconds (after a warm-up)."""
    x = np.random.default_rng(0).uniform(0, 16, size=(batch, 64)).astype(np.float32)
    for _ in range(5):
        predict(session, x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(session, x)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def measure(
    tracking_uri: str,
    version: Any,
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    workdir: Path,
    repeats: int,
) -> ModelReport:
    """Accuracy, parity and latency of one version."""
    session = load_session(tracking_uri, version, workdir)
    accuracy = float((predict(session, x).argmax(axis=1) == y).mean())
    ok, detail = parity(tracking_uri, session, version.run_id, workdir)
    latencies = {b: latency_p50_ms(session, b, repeats) for b in BATCH_SIZES}
    return ModelReport(str(version.version), accuracy, ok, detail, latencies)


def decide(
    candidate: ModelReport, production: ModelReport | None, margin: float, tolerance: float
) -> tuple[bool, list[str]]:
    """The promotion rule; returns (promote, reasons it holds or fails)."""
    reasons, promote = [], True
    if not candidate.parity_ok:
        promote = False
        reasons.append(f"ONNX parity fails: {candidate.parity_detail}")
    if production is None:
        reasons.append("no production version yet")
        return promote, reasons
    if not promotion.should_promote(candidate.accuracy, production.accuracy, margin):
        promote = False
        reasons.append(
            f"accuracy {candidate.accuracy:.4f} < production {production.accuracy:.4f} + {margin}"
        )
    for batch in BATCH_SIZES:
        limit = production.latency_p50_ms[batch] * (1 + tolerance)
        if candidate.latency_p50_ms[batch] > limit:
            promote = False
            reasons.append(
                f"p50 at batch {batch} {candidate.latency_p50_ms[batch]:.3f} ms > "
                f"{limit:.3f} ms (production × {1 + tolerance})"
            )
    if promote:
        reasons.append("at least as accurate, parity holds, latency within tolerance")
    return promote, reasons


def render(
    name: str,
    candidate: ModelReport,
    production: ModelReport | None,
    promote: bool,
    reasons: list[str],
    promoted: bool,
) -> str:
    """The markdown report (job summary)."""
    rows = [("candidate", candidate)] + ([("production", production)] if production else [])
    lines = [
        f"## Model registry: {name} v{candidate.version}",
        "",
        "| | version | accuracy | ONNX parity | p50 batch 1 (ms) | p50 batch 64 (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        parity_text = ("✅ " if r.parity_ok else "❌ ") + r.parity_detail
        lines.append(
            f"| {label} | {r.version} | {r.accuracy:.4f} | {parity_text} | "
            f"{r.latency_p50_ms[1]:.3f} | {r.latency_p50_ms[64]:.3f} |"
        )
    verdict = (
        "promoted to production"
        if promoted
        else ("would be promoted (dry run)" if promote else "not promoted")
    )
    lines += ["", f"**Verdict: {verdict}.**", ""] + [f"- {r}" for r in reasons]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: 0 when evaluated (promoted or not), 1 on an error."""
    parser = argparse.ArgumentParser(description="Evaluate a staged model version.")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", ""))
    parser.add_argument("--model-name", default=MODEL_NAME)
    parser.add_argument("--candidate", default=ALIAS_STAGING, help="version number or alias")
    parser.add_argument("--data", default="digits", help="'digits' or a prepared .npz")
    parser.add_argument("--margin", type=float, default=0.0)
    parser.add_argument("--latency-tolerance", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--promote", action="store_true", help="move the production alias")
    parser.add_argument("--report", type=Path)
    parser.add_argument("--workdir", type=Path, default=Path("build/model-registry"))
    args = parser.parse_args(argv)
    if not args.tracking_uri:
        print("evaluate: set --tracking-uri or MLFLOW_TRACKING_URI", file=sys.stderr)
        return 1
    try:
        client = make_client(args.tracking_uri)
        candidate_v = resolve_version(client, args.model_name, args.candidate)
        if candidate_v is None:
            raise EvaluationError(f"{args.model_name} has no version with alias {args.candidate}")
        production_v = resolve_version(client, args.model_name, ALIAS_PRODUCTION)
        x, y = heldout_set(args.data)
        args.workdir.mkdir(parents=True, exist_ok=True)
        candidate = measure(args.tracking_uri, candidate_v, x, y, args.workdir, args.repeats)
        production = None
        if production_v is not None and production_v.version != candidate_v.version:
            production = measure(args.tracking_uri, production_v, x, y, args.workdir, args.repeats)
    except EvaluationError as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    promote, reasons = decide(candidate, production, args.margin, args.latency_tolerance)
    promoted = False
    if promote and args.promote:
        promotion.promote(client, candidate.version, name=args.model_name)
        promoted = True
    report = render(args.model_name, candidate, production, promote, reasons, promoted)
    print(report)
    for target in filter(None, [args.report, os.environ.get("GITHUB_STEP_SUMMARY")]):
        with open(target, "a") as handle:
            handle.write(report)
    summary = {"promote": promote, "promoted": promoted, "candidate": asdict(candidate)}
    print(f"result: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
