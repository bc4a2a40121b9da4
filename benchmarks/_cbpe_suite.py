"""The CBPE suite: per shift and per window, the drift service's accuracy estimate against the
accuracy the window's true labels give, and what each retrain policy would do.

Test and benchmark code, kept out of the service's package (as :mod:`_drift_simulation` is). The
caller draws the windows (``draw``: digits or texts, clean or shifted) as frames in the model's
reference layout with their true labels; this module scores them with the service's own pieces:
:func:`mlops_drift.detector.check_drift` (the verdict),
:func:`mlops_drift.estimate.estimate_performance` (CBPE, calibrated and raw) and
:func:`mlops_drift.estimate.decide_retrain` (each policy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlops_common.calibration import ConfidenceCalibration, expected_calibration_error
from mlops_drift.columns import MonitoredColumns
from mlops_drift.detector import DriftConfig, check_drift
from mlops_drift.estimate import RetrainPolicy, RetrainRule, decide_retrain, estimate_performance

#: (shift name, rng) → a window in the reference layout and its true labels (-1: no class)
Draw = Callable[[str, np.random.Generator], tuple[pd.DataFrame, NDArray[np.int64]]]


@dataclass(slots=True)
class ShiftOutcome:
    """Every window of one shift: realised and estimated accuracies, drift, retrains."""

    shift: str
    realised: list[float] = field(default_factory=list)
    estimated: list[float] = field(default_factory=list)
    estimated_raw: list[float] = field(default_factory=list)
    drops: list[float] = field(default_factory=list)
    drifted: int = 0
    retrains: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RetrainPolicy, 0))
    confidences: list[NDArray[np.float64]] = field(default_factory=list)
    correct: list[NDArray[np.float64]] = field(default_factory=list)

    @property
    def windows(self) -> int:
        """Windows checked."""
        return len(self.estimated)

    @property
    def labelled(self) -> bool:
        """Whether the windows have a realised accuracy (out-of-domain texts have no class)."""
        return bool(self.realised) and not np.isnan(self.realised).any()

    def mae(self, raw: bool = False) -> float:
        """Mean absolute error of the estimate (calibrated, or raw confidence), accuracy 0..1."""
        if not self.labelled:
            return float("nan")
        estimated = self.estimated_raw if raw else self.estimated
        return float(np.mean(np.abs(np.subtract(estimated, self.realised))))

    def ece(self, calibration: ConfidenceCalibration | None) -> float:
        """ECE over every row of the shift's windows (raw confidences without ``calibration``)."""
        if not self.labelled:
            return float("nan")
        confidences = np.concatenate(self.confidences)
        if calibration is not None:
            confidences = calibration.apply(confidences)
        return expected_calibration_error(confidences, np.concatenate(self.correct))


def run_cbpe_suite(
    reference: pd.DataFrame,
    columns: MonitoredColumns,
    calibration: ConfidenceCalibration | None,
    draw: Draw,
    windows: Mapping[str, int],
    *,
    rule: RetrainRule,
    config: DriftConfig | None = None,
    seed: int = 0,
) -> list[ShiftOutcome]:
    """Check ``windows[name]`` windows of each shift: verdict, estimate, realised accuracy and
    the retrain each policy (with ``rule``'s thresholds) would queue."""
    assert columns.prediction is not None
    assert columns.confidence is not None
    baseline = reference[columns.confidence]
    outcomes = []
    for name, count in windows.items():
        rng = np.random.default_rng([seed, len(name), sum(map(ord, name))])
        outcome = ShiftOutcome(name)
        for _ in range(count):
            window, labels = draw(name, rng)
            confidence = window[columns.confidence].to_numpy(dtype=np.float64)
            hit = (window[columns.prediction].to_numpy() == labels).astype(np.float64)
            estimate = estimate_performance(confidence, baseline, calibration)
            verdict = check_drift(reference, window, config, columns=columns)
            outcome.realised.append(float(hit.mean()) if (labels >= 0).all() else float("nan"))
            outcome.estimated.append(estimate.estimated_accuracy)
            outcome.estimated_raw.append(
                estimate_performance(confidence, None, None).estimated_accuracy
            )
            outcome.drops.append(float(estimate.drop or 0.0))
            outcome.drifted += int(verdict.drift_detected)
            outcome.confidences.append(confidence)
            outcome.correct.append(hit)
            for policy in RetrainPolicy:
                decision = decide_retrain(
                    RetrainRule(policy, rule.drop, rule.min_drop_with_drift),
                    verdict.drift_detected,
                    verdict.reasons,
                    estimate,
                )
                outcome.retrains[policy] += int(decision.reason is not None)
        outcomes.append(outcome)
    return outcomes


def table(outcomes: list[ShiftOutcome], calibration: ConfidenceCalibration | None) -> str:
    """A markdown table: accuracies, MAE (calibrated / raw), drop, ECE, drift and retrains."""
    policies = " / ".join(policy.value for policy in RetrainPolicy)
    lines = [
        "| shift | windows | realised acc | CBPE acc | MAE pt (calibrated / raw) | drop: mean "
        f"[min, max] | ECE raw → calibrated | drift | retrain: {policies} |",
        "|---|---:|---:|---:|---|---|---|---:|---|",
    ]
    for o in outcomes:
        realised = f"{np.mean(o.realised):.3f}" if o.labelled else "—"
        mae = f"{100 * o.mae():.1f} / {100 * o.mae(raw=True):.1f}" if o.labelled else "—"
        ece = f"{o.ece(None):.3f} → {o.ece(calibration):.3f}" if o.labelled else "—"
        retrains = " / ".join(str(o.retrains[p]) for p in RetrainPolicy)
        lines.append(
            f"| {o.shift} | {o.windows} | {realised} | {np.mean(o.estimated):.3f} | {mae} | "
            f"{np.mean(o.drops):+.3f} [{min(o.drops):+.3f}, {max(o.drops):+.3f}] | {ece} | "
            f"{o.drifted} | {retrains} |"
        )
    return "\n".join(lines)


def window_rows(outcomes: list[ShiftOutcome]) -> str:
    """Per window: estimated vs realised accuracy, one line per shift."""
    lines = []
    for o in outcomes:
        pairs = ", ".join(
            f"{e:.3f}/{r:.3f}" if not np.isnan(r) else f"{e:.3f}/—"
            for e, r in zip(o.estimated, o.realised, strict=True)
        )
        lines.append(f"- {o.shift} (estimated/realised): {pairs}")
    return "\n".join(lines)
