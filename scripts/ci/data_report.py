"""Statistics of a dataset version and its drift against the previous version, as markdown.

``python scripts/ci/data_report.py --current data/prepared/digits.npz --previous old.npz
--out report.md`` (the data workflow posts ``report.md`` on the pull request). A dataset is
one of the forms the trainer reads, all turned into float32 features ``[N, 64]`` on the 0..16
scale and integer labels:

- a prepared split ``.npz`` (``x_train``/``y_train``/``x_val``/… as written by the trainer, or a
  plain ``x``/``y`` pair);
- a CSV with the 64 ``pixel_r_c`` columns and an optional ``label`` column;
- an image folder, one sub-folder per class (``0``…``9``), through the shared preprocessing.

Drift uses the same tests as the drift service: a two-sample Kolmogorov–Smirnov test per
feature at a level corrected for the 64 tests (Bonferroni), and a chi-square test of the class
counts; the version drifts when the share of drifted features reaches ``--feature-share`` or the
class balance moved.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats as st

from mlops_common.features import FEATURE_NAMES, N_FEATURES, image_to_features, validate_features
from mlops_common.registry import N_CLASSES

MARKER = "<!-- data-report -->"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})


class DataReportError(ValueError):
    """A dataset cannot be read; the message names the file and the problem."""


@dataclass
class Dataset:
    """Features, labels (or None) and the size of each part of one dataset version."""

    features: NDArray[np.float32]
    labels: NDArray[np.int64] | None
    parts: dict[str, int] = field(default_factory=dict)


def _from_npz(path: Path) -> Dataset:
    with np.load(path) as npz:
        keys = set(npz.files)
        parts = sorted(k[2:] for k in keys if k.startswith("x_") and f"y_{k[2:]}" in keys)
        if parts:
            xs = [npz[f"x_{p}"] for p in parts]
            ys = [npz[f"y_{p}"] for p in parts]
            sizes = {p: len(y) for p, y in zip(parts, ys, strict=True)}
            return Dataset(np.concatenate(xs), np.concatenate(ys), sizes)
        if "x" in keys:
            labels = npz["y"] if "y" in keys else None
            return Dataset(npz["x"], labels, {"all": len(npz["x"])})
    raise DataReportError(
        f"{path}: expected arrays x_<part>/y_<part> or x[/y], found {sorted(keys)}"
    )


def _from_csv(path: Path) -> Dataset:
    frame = pd.read_csv(path)
    missing = [c for c in FEATURE_NAMES if c not in frame.columns]
    if missing:
        raise DataReportError(f"{path}: missing feature columns {missing[:3]}… ({len(missing)})")
    labels = frame["label"].to_numpy(np.int64) if "label" in frame.columns else None
    return Dataset(frame[list(FEATURE_NAMES)].to_numpy(np.float32), labels, {"all": len(frame)})


def _from_folder(root: Path) -> Dataset:
    features, labels = [], []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if not class_dir.name.isdigit() or not 0 <= int(class_dir.name) < N_CLASSES:
            raise DataReportError(f"{class_dir}: class folders are named 0..{N_CLASSES - 1}")
        for image in sorted(class_dir.iterdir()):
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                features.append(image_to_features(image.read_bytes()))
            except ValueError as exc:
                raise DataReportError(f"{image}: {exc}") from exc
            labels.append(int(class_dir.name))
    if not labels:
        raise DataReportError(f"{root}: no images under <class>/ sub-folders")
    return Dataset(np.stack(features), np.asarray(labels, np.int64), {"all": len(labels)})


def load_dataset(path: Path) -> Dataset:
    """Read one dataset version in any of the supported forms, validated."""
    if not path.exists():
        raise DataReportError(f"{path} does not exist (did `dvc pull` fetch it?)")
    if path.is_dir():
        dataset = _from_folder(path)
    elif path.suffix == ".npz":
        dataset = _from_npz(path)
    elif path.suffix == ".csv":
        dataset = _from_csv(path)
    else:
        raise DataReportError(f"{path}: not a folder, .npz or .csv")
    try:
        dataset.features = validate_features(np.asarray(dataset.features, np.float32))
    except ValueError as exc:
        raise DataReportError(f"{path}: {exc}") from exc
    if dataset.labels is not None and len(dataset.labels) != len(dataset.features):
        raise DataReportError(
            f"{path}: {len(dataset.labels)} labels for {len(dataset.features)} rows"
        )
    return dataset


def statistics(dataset: Dataset) -> dict[str, Any]:
    """Size, parts, class balance, feature summary, duplicates and a content hash."""
    x = dataset.features
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes())
    if dataset.labels is not None:
        digest.update(np.ascontiguousarray(dataset.labels).tobytes())
    counts = (
        np.bincount(dataset.labels, minlength=N_CLASSES).tolist()
        if dataset.labels is not None
        else None
    )
    return {
        "rows": len(x),
        "parts": dataset.parts,
        "class_counts": counts,
        "feature_mean": round(float(x.mean()), 4),
        "feature_std": round(float(x.std()), 4),
        "constant_features": int((x.std(axis=0) == 0).sum()),
        "duplicate_rows": int(len(x) - len(np.unique(x, axis=0))),
        "content_hash": digest.hexdigest()[:16],
    }


@dataclass(frozen=True)
class DriftResult:
    """The comparison of two versions."""

    drifted_features: list[str]
    drifted_share: float
    label_p_value: float | None
    drift: bool
    reasons: list[str]


def compare(
    previous: Dataset, current: Dataset, *, alpha: float = 0.05, feature_share: float = 0.25
) -> DriftResult:
    """KS per feature (Bonferroni over 64) and chi-square on class counts."""
    level = alpha / N_FEATURES
    drifted = [
        name
        for i, name in enumerate(FEATURE_NAMES)
        if st.ks_2samp(previous.features[:, i], current.features[:, i]).pvalue < level
    ]
    share = len(drifted) / N_FEATURES
    reasons = []
    if share >= feature_share:
        reasons.append(f"{len(drifted)} of {N_FEATURES} features drifted (≥ {feature_share:.0%})")
    label_p = None
    if previous.labels is not None and current.labels is not None:
        table = np.stack(
            [np.bincount(d, minlength=N_CLASSES) for d in (previous.labels, current.labels)]
        )
        table = table[:, table.sum(axis=0) > 0]
        label_p = float(st.chi2_contingency(table).pvalue) if table.shape[1] > 1 else 1.0
        if label_p < alpha:
            reasons.append(f"class balance changed (chi-square p = {label_p:.2g})")
    return DriftResult(drifted, round(share, 4), label_p, bool(reasons), reasons)


def render(
    current: dict[str, Any], previous: dict[str, Any] | None, drift: DriftResult | None
) -> str:
    """The pull-request comment: statistics side by side and the drift verdict."""
    lines = [MARKER, "## Data report", ""]
    cols = ["current"] + (["previous"] if previous else [])
    lines += ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for key in (
        "rows",
        "parts",
        "class_counts",
        "feature_mean",
        "feature_std",
        "constant_features",
        "duplicate_rows",
        "content_hash",
    ):
        values = [current[key]] + ([previous[key]] if previous else [])
        lines.append(f"| {key} | " + " | ".join(f"`{v}`" for v in values) + " |")
    lines.append("")
    if drift is None:
        lines.append("No previous version to compare with: statistics only.")
    elif drift.drift:
        lines.append("**Drift against the previous version:** " + "; ".join(drift.reasons) + ".")
    else:
        lines.append(
            f"**No drift against the previous version** ({len(drift.drifted_features)} of "
            f"{N_FEATURES} features moved; class balance p = {drift.label_p_value})."
        )
    if drift and drift.drifted_features:
        lines += ["", "Drifted features: " + ", ".join(f"`{f}`" for f in drift.drifted_features)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: 0 on success (drift is reported, not an error)."""
    parser = argparse.ArgumentParser(description="Dataset statistics and drift report.")
    parser.add_argument("--current", type=Path, required=True)
    parser.add_argument("--previous", type=Path)
    parser.add_argument("--out", type=Path, help="write the markdown here (default: stdout)")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    parser.add_argument("--feature-share", type=float, default=0.25)
    args = parser.parse_args(argv)
    try:
        current = load_dataset(args.current)
        previous = load_dataset(args.previous) if args.previous and args.previous.exists() else None
    except DataReportError as exc:
        print(f"data report: {exc}", file=sys.stderr)
        return 1
    drift = compare(previous, current, feature_share=args.feature_share) if previous else None
    current_stats = statistics(current)
    previous_stats = statistics(previous) if previous else None
    markdown = render(current_stats, previous_stats, drift)
    if args.out:
        args.out.write_text(markdown)
    else:
        print(markdown)
    if args.json:
        payload = {
            "current": current_stats,
            "previous": previous_stats,
            "drift": asdict(drift) if drift else None,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
