"""The probation verdict: does a new production version regress against the one it replaced?

Four signals, each counted only with enough rows behind both versions:

- live accuracy on labelled traffic (feedback), at least ``min_labelled`` labelled rows each;
- estimated accuracy (CBPE: the mean calibrated confidence, :mod:`mlops_common.calibration`),
  at least ``min_rows`` rows each — it needs no labels, so it speaks first;
- p99 latency (the gateway's inference call, as each traffic entry logs it), ``min_rows`` each;
- the error rate: the share of requests whose model run failed (inference counts them per
  version in ``outcomes:<model>``), with ``min_rows`` requests behind the new version.

Pure: the controller gathers the figures (:class:`VersionFigures`) and acts on the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_common.live_stats import VersionStats


@dataclass(frozen=True, slots=True)
class ProbationLimits:
    """How far the new version may fall behind before it is rolled back."""

    min_labelled: int = 30
    max_accuracy_drop: float = 0.05
    min_rows: int = 100
    max_estimate_drop: float = 0.05
    max_p99_ratio: float = 3.0
    max_error_increase: float = 0.02


@dataclass(frozen=True, slots=True)
class VersionFigures:
    """A version's live figures, with its estimated accuracy (``None`` without rows)."""

    stats: VersionStats
    estimated_accuracy: float | None
    #: Requests inference answered or failed for the version, and those that failed.
    requests: int = 0
    errors: int = 0

    @property
    def error_rate(self) -> float | None:
        """The share of requests that failed (``None`` without requests)."""
        return self.errors / self.requests if self.requests else None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return {
            **self.stats.as_dict(),
            "estimated_accuracy": self.estimated_accuracy,
            "requests": self.requests,
            "errors": self.errors,
        }


def regressions(new: VersionFigures, old: VersionFigures, limits: ProbationLimits) -> list[str]:
    """Why ``new`` is worse than ``old`` (empty: no regression shown, or not enough rows)."""
    found: list[str] = []
    a, b = new.stats, old.stats
    if (
        a.labelled >= limits.min_labelled
        and b.labelled >= limits.min_labelled
        and a.accuracy is not None
        and b.accuracy is not None
        and b.accuracy - a.accuracy > limits.max_accuracy_drop
    ):
        found.append(
            f"live accuracy {a.accuracy:.3f} on {a.labelled} labelled rows vs {b.accuracy:.3f} "
            f"for v{b.version} (drop > {limits.max_accuracy_drop:g})"
        )
    enough_rows = a.rows >= limits.min_rows and b.rows >= limits.min_rows
    if (
        enough_rows
        and new.estimated_accuracy is not None
        and old.estimated_accuracy is not None
        and old.estimated_accuracy - new.estimated_accuracy > limits.max_estimate_drop
    ):
        found.append(
            f"estimated accuracy {new.estimated_accuracy:.3f} on {a.rows} rows vs "
            f"{old.estimated_accuracy:.3f} for v{b.version} (drop > {limits.max_estimate_drop:g})"
        )
    if (
        enough_rows
        and a.p99_ms is not None
        and b.p99_ms is not None
        and b.p99_ms > 0
        and a.p99_ms / b.p99_ms > limits.max_p99_ratio
    ):
        found.append(
            f"p99 latency {a.p99_ms:.1f} ms vs {b.p99_ms:.1f} ms for v{b.version} "
            f"(ratio > {limits.max_p99_ratio:g})"
        )
    mine, theirs = new.error_rate, old.error_rate or 0.0
    if (
        mine is not None
        and new.requests >= limits.min_rows
        and mine - theirs > limits.max_error_increase
    ):
        found.append(
            f"error rate {mine:.1%} of {new.requests} requests vs {theirs:.1%} for v{b.version} "
            f"(increase > {limits.max_error_increase:g})"
        )
    return found
