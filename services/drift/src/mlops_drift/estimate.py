"""The label-free accuracy estimate of a window (CBPE) and the retrain policy that reads it.

Drift says the traffic moved; it does not say the model got worse. The estimate does, without
labels: the mean *calibrated* confidence of the window's answers
(:func:`mlops_common.calibration.expected_accuracy`, confidence-based performance estimation as
NannyML defines it for accuracy), with the production version's calibration
(:data:`~mlops_common.calibration.CALIBRATION_ARTIFACT`; raw confidences, ``calibrated: false``,
for a version without one, such as an imported model). Its baseline is the same estimate over
the reference rows' confidences, and the *drop* is baseline − window.

It is right where the calibration holds: on clean traffic and under a class-prior change. On
inputs the model never saw it can be confidently wrong, and no confidence-based estimate sees
that; the drift verdict does (``benchmarks/results/cbpe.md`` has the figures). Hence three retrain
policies (``DRIFT_RETRAIN_POLICY``; ``harmful_drift`` by default, chosen on the shift suites):

- ``drift``: the drift verdict alone (the first wave's behaviour);
- ``estimate``: an estimated drop of at least ``drop`` alone (drift that does not hurt the
  estimate never retrains, nor does confidently-wrong drift);
- ``harmful_drift``: an estimated drop of at least ``drop``, or the drift verdict together with a
  smaller drop of at least ``min_drop_with_drift`` (drift the model shrugs off does not retrain).

Without an estimate (no confidences in the reference) ``harmful_drift`` falls back to ``drift``
and ``estimate`` never retrains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from numpy.typing import ArrayLike

from mlops_common.calibration import ConfidenceCalibration, expected_accuracy


class RetrainPolicy(StrEnum):
    """What queues a retrain: see the module docstring."""

    DRIFT = "drift"
    ESTIMATE = "estimate"
    HARMFUL_DRIFT = "harmful_drift"


@dataclass(frozen=True, slots=True)
class RetrainRule:
    """The retrain policy and its thresholds (absolute accuracy, 0..1)."""

    policy: RetrainPolicy = RetrainPolicy.HARMFUL_DRIFT
    #: An estimated drop from which a retrain is queued with or without drift.
    drop: float = 0.05
    #: Under ``harmful_drift``: the smallest drop that makes detected drift worth a retrain.
    min_drop_with_drift: float = 0.01


@dataclass(frozen=True, slots=True)
class PerformanceEstimate:
    """CBPE of a window and of the reference rows (None: the reference logs no confidence)."""

    estimated_accuracy: float
    reference_estimated_accuracy: float | None
    calibrated: bool

    @property
    def drop(self) -> float | None:
        """Baseline − window (positive: the model is estimated to do worse now)."""
        if self.reference_estimated_accuracy is None:
            return None
        return self.reference_estimated_accuracy - self.estimated_accuracy

    def public(self) -> dict[str, Any]:
        """The status JSON's estimate fields."""
        drop = self.drop
        return {
            "estimated_accuracy": round(self.estimated_accuracy, 6),
            "reference_estimated_accuracy": (
                None
                if self.reference_estimated_accuracy is None
                else round(self.reference_estimated_accuracy, 6)
            ),
            "estimated_accuracy_drop": None if drop is None else round(drop, 6),
            "calibrated": self.calibrated,
        }


#: The status JSON's estimate fields when no estimate could be made (no confidences).
NO_ESTIMATE: dict[str, Any] = {
    "estimated_accuracy": None,
    "reference_estimated_accuracy": None,
    "estimated_accuracy_drop": None,
    "calibrated": False,
}


def estimate_performance(
    window_confidences: ArrayLike,
    reference_confidences: ArrayLike | None,
    calibration: ConfidenceCalibration | None,
) -> PerformanceEstimate:
    """CBPE over the window's confidences and, as the baseline, over the reference's.

    Raises:
        ValueError: the window holds no confidence.
    """
    baseline = (
        expected_accuracy(reference_confidences, calibration)
        if reference_confidences is not None
        else None
    )
    return PerformanceEstimate(
        estimated_accuracy=expected_accuracy(window_confidences, calibration),
        reference_estimated_accuracy=baseline,
        calibrated=calibration is not None,
    )


@dataclass(frozen=True, slots=True)
class RetrainDecision:
    """Why to queue a retrain (None: do not), and a note when the policy held drift back."""

    reason: str | None
    note: str | None = None


def _drop_text(estimate: PerformanceEstimate, drop: float, threshold: float) -> str:
    kind = "calibrated" if estimate.calibrated else "raw-confidence"
    return (
        f"estimated accuracy ({kind} CBPE) fell from {estimate.reference_estimated_accuracy:.3f} "
        f"to {estimate.estimated_accuracy:.3f} (drop {drop:.3f} ≥ {threshold:g})"
    )


def decide_retrain(
    rule: RetrainRule,
    drift_detected: bool,
    drift_reasons: Sequence[str],
    estimate: PerformanceEstimate | None,
) -> RetrainDecision:
    """Apply ``rule`` to a check's drift verdict and estimate."""
    drift = "; ".join(drift_reasons)
    drop = estimate.drop if estimate is not None else None
    if rule.policy is RetrainPolicy.DRIFT or (
        drop is None and rule.policy is RetrainPolicy.HARMFUL_DRIFT
    ):
        return RetrainDecision(drift if drift_detected else None)
    if estimate is None or drop is None or math.isnan(drop):
        note = f"no accuracy estimate: no retrain queued (policy {rule.policy})"
        return RetrainDecision(None, note if drift_detected else None)
    if drop >= rule.drop:
        reason = _drop_text(estimate, drop, rule.drop)
        return RetrainDecision(f"{reason}; {drift}" if drift_detected else reason)
    if rule.policy is RetrainPolicy.HARMFUL_DRIFT and drift_detected:
        if drop >= rule.min_drop_with_drift:
            return RetrainDecision(
                f"{drift}; {_drop_text(estimate, drop, rule.min_drop_with_drift)}"
            )
        floor = rule.min_drop_with_drift
    else:
        floor = rule.drop
    note = (
        f"estimated accuracy drop {drop:.3f} < {floor:g}: no retrain queued (policy {rule.policy})"
    )
    return RetrainDecision(None, note if drift_detected else None)
