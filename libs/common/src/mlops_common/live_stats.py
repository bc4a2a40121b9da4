"""Live statistics of served and shadowed versions, from traffic, shadow records and feedback.

Pure functions over what the streams hold: the caller reads the entries (``XRANGE``) and the
true labels of their prediction ids (``HMGET feedback``) and passes both in. Drift's rollout
controller and the gateway's ``GET /v1/models/{name}/rollout`` compute the same figures here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlops_common.shadow import ShadowRecord


@dataclass(frozen=True, slots=True)
class VersionStats:
    """One version's figures over a window: rows answered, labelled rows and the accuracy on
    them, mean confidence, and latency percentiles (ms)."""

    version: str
    rows: int
    labelled: int
    accuracy: float | None
    mean_confidence: float | None
    p50_ms: float | None
    p99_ms: float | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return {
            "version": self.version,
            "rows": self.rows,
            "labelled": self.labelled,
            "accuracy": self.accuracy,
            "mean_confidence": self.mean_confidence,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
        }


def version_stats(
    version: str,
    labels: Sequence[int],
    confidences: Sequence[float],
    truths: Sequence[int | None],
    latencies_ms: Sequence[float],
) -> VersionStats:
    """Figures of one version from its rows: its labels and confidences, each row's true label
    (``None`` when unlabelled) and the latencies observed (one per request or per row)."""
    scored = [
        (label, truth) for label, truth in zip(labels, truths, strict=True) if truth is not None
    ]
    latency = np.asarray(latencies_ms, dtype=np.float64)
    return VersionStats(
        version=version,
        rows=len(labels),
        labelled=len(scored),
        accuracy=(sum(a == b for a, b in scored) / len(scored)) if scored else None,
        mean_confidence=float(np.mean(confidences)) if len(confidences) else None,
        p50_ms=float(np.percentile(latency, 50)) if latency.size else None,
        p99_ms=float(np.percentile(latency, 99)) if latency.size else None,
    )


@dataclass(frozen=True, slots=True)
class ShadowStats:
    """Production and candidate side by side over the same shadowed requests."""

    requests: int
    rows: int
    agreement: float | None
    production: VersionStats
    candidate: VersionStats

    def as_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return {
            "requests": self.requests,
            "rows": self.rows,
            "agreement": self.agreement,
            "production": self.production.as_dict(),
            "candidate": self.candidate.as_dict(),
        }


def shadow_stats(
    records: Iterable[ShadowRecord],
    truths: Mapping[str, int],
    *,
    production: str,
    candidate: str,
) -> ShadowStats:
    """Both models' figures over the records of this ``production``/``candidate`` pair (others
    are ignored); ``truths``: the feedback labels known, by prediction id."""
    prod_labels: list[int] = []
    prod_conf: list[float] = []
    cand_labels: list[int] = []
    cand_conf: list[float] = []
    truth: list[int | None] = []
    prod_ms: list[float] = []
    cand_ms: list[float] = []
    requests = 0
    for record in records:
        if record.production_version != production or record.candidate_version != candidate:
            continue
        requests += 1
        prod_labels.extend(record.production_labels)
        prod_conf.extend(record.production_confidences)
        cand_labels.extend(record.candidate_labels)
        cand_conf.extend(record.candidate_confidences)
        truth.extend(truths.get(pid) for pid in record.prediction_ids())
        prod_ms.append(record.production_ms)
        cand_ms.append(record.candidate_ms)
    rows = len(prod_labels)
    agree = sum(a == b for a, b in zip(prod_labels, cand_labels, strict=True))
    return ShadowStats(
        requests=requests,
        rows=rows,
        agreement=agree / rows if rows else None,
        production=version_stats(production, prod_labels, prod_conf, truth, prod_ms),
        candidate=version_stats(candidate, cand_labels, cand_conf, truth, cand_ms),
    )


def shadow_ids(records: Iterable[ShadowRecord]) -> list[str]:
    """Every prediction id the records cover (to look up in ``feedback``)."""
    return [pid for record in records for pid in record.prediction_ids()]
