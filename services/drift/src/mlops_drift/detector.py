"""The drift verdict: Evidently tests of a window of traffic against the reference sample.

Three families of tests, each with its own significance level so that the false-alarm rate of
the whole verdict stays bounded (a union bound over the families):

- **features** — Evidently's per-column test (two-sample Kolmogorov–Smirnov by default) on each
  of the model's logged columns — a numeric input's ``input:`` columns, a text model's
  ``output:<tensor>:<i>`` columns (:mod:`mlops_drift.feature_tests`, which keeps every column's
  score), with a per-column p-value threshold meant to be corrected for the number of columns
  (the default suits a few dozen); the features drift when the *share* of drifted columns
  reaches ``feature_share``;
- **predicted labels** — a chi-square test of homogeneity of the window's and the reference's
  predicted-class counts (registered with Evidently by :mod:`mlops_drift.stattests`) on the
  ``output:label`` column;
- **confidence** — a test of the window's ``output:confidence`` column against the reference's
  (Welch-free two-sample t-test on the mean by default), counted only when the mean moves by at
  least ``min_confidence_shift`` (a difference too small to matter is not drift).

Which columns play which role comes from the model's spec (:class:`MonitoredColumns`). A test
whose column the reference lacks (an imported model's reference may hold only its inputs) is
skipped, and the verdict's notes say so. The verdict is drift when any family drifts.

:func:`check_drift` is pure and CPU-bound: the service runs it in a worker process, never on
the event loop. :func:`render_report` builds the full Evidently HTML report (slow: plots for
every column) only when someone asks for it.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from mlops_drift.columns import MonitoredColumns
from mlops_drift.feature_tests import FeatureTestError, FeatureTests, score_features


class DriftInputError(ValueError):
    """A window or reference cannot be checked (missing columns, too few rows)."""

    code = "invalid_drift_input"


_NO_FEATURE_TESTS = FeatureTests(scores={}, drifted=(), method="", display_name="", threshold=0.0)


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """Thresholds of the verdict (see the module docstring for their meaning)."""

    feature_method: str = "ks"
    #: Per-column p-value threshold: about 0.05 / 50 (Bonferroni over a few dozen columns).
    feature_threshold: float = 0.001
    #: Share of drifted columns from which the features count as drifted.
    feature_share: float = 0.05
    #: a two-sample test (see :mod:`mlops_drift.stattests`), not Evidently's goodness of fit
    label_method: str = "chi2_homogeneity"
    label_threshold: float = 0.005
    confidence_method: str = "t_test"
    confidence_threshold: float = 0.005
    #: Smallest change of mean confidence that counts (absolute, on the 0..1 scale).
    min_confidence_shift: float = 0.02


@dataclass(frozen=True, slots=True)
class DriftVerdict:
    """The outcome of one check, as ``GET /v1/drift/status`` reports it."""

    drift_detected: bool
    drifted_share: float
    window_size: int
    reference_size: int
    checked_at: float
    reasons: tuple[str, ...]
    feature_drift: bool = False
    label_drift: bool = False
    confidence_drift: bool = False
    drifted_features: int = 0
    label_p_value: float = 1.0
    confidence_p_value: float = 1.0
    reference_confidence: float = math.nan
    window_confidence: float = math.nan
    duration_s: float = 0.0
    features: FeatureTests = _NO_FEATURE_TESTS
    #: What the verdict could not do or did not act on (a skipped test, no retrain queued).
    notes: tuple[str, ...] = ()
    #: The monitored model's name (set by the monitor).
    model: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def status(self) -> dict[str, Any]:
        """The public JSON: ``model, drift_detected, drifted_share, window_size, checked_at,
        reasons`` (the drift reasons, then the notes) and the per-feature ``feature_scores``,
        ``drifted_features`` and ``feature_test``."""
        return {
            "model": self.model,
            "drift_detected": self.drift_detected,
            "drifted_share": round(self.drifted_share, 6),
            "window_size": self.window_size,
            "checked_at": self.checked_at,
            "reasons": [*self.reasons, *self.notes],
            **self.features.public(),
        }


def _validate(frame: pd.DataFrame, what: str, names: list[str]) -> None:
    missing = [column for column in names if column not in frame.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise DriftInputError(f"the {what} lacks {len(missing)} column(s): {shown}")
    if len(frame) < 2:
        raise DriftInputError(f"the {what} has {len(frame)} row(s); at least 2 are needed")


def _usable(
    reference: pd.DataFrame, current: pd.DataFrame, columns: MonitoredColumns | None
) -> tuple[MonitoredColumns, tuple[str, ...]]:
    """The columns both frames can be tested on, and a note per output test skipped.

    Raises:
        DriftInputError: a frame lacks a feature column (or the window an output column the
            reference has), or has fewer than 2 rows.
    """
    wanted = columns or MonitoredColumns.infer(reference)
    _validate(reference, "reference", list(wanted.features))
    usable = wanted.present(reference)
    notes = tuple(
        f"{test} test skipped: the reference has no {name!r} column"
        for test, name, kept in (
            ("predicted-label", wanted.prediction, usable.prediction),
            ("confidence", wanted.confidence, usable.confidence),
        )
        if name is not None and kept is None
    )
    _validate(current, "window", usable.names)
    return usable, notes


def _datasets(
    reference: pd.DataFrame, current: pd.DataFrame, columns: MonitoredColumns
) -> tuple[Any, Any]:
    from evidently import DataDefinition, Dataset

    numerical = list(columns.features)
    if columns.confidence is not None:
        numerical.append(columns.confidence)
    definition = DataDefinition(
        numerical_columns=numerical,
        categorical_columns=[columns.prediction] if columns.prediction is not None else [],
    )
    ref = reference[columns.names].copy()
    cur = current[columns.names].copy()
    if columns.prediction is not None:
        for frame in (ref, cur):
            frame[columns.prediction] = frame[columns.prediction].astype(int)
    return (
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )


def _output_p_values(
    reference: pd.DataFrame, current: pd.DataFrame, columns: MonitoredColumns, cfg: DriftConfig
) -> tuple[float, float]:
    """p-values of the label and confidence tests (1.0, no evidence, for a skipped test)."""
    from evidently import Report
    from evidently.metrics import ValueDrift

    tests = [
        (name, method, threshold)
        for name, method, threshold in (
            (columns.prediction, cfg.label_method, cfg.label_threshold),
            (columns.confidence, cfg.confidence_method, cfg.confidence_threshold),
        )
        if name is not None
    ]
    if not tests:
        return 1.0, 1.0
    report = Report(
        [
            ValueDrift(column=name, method=method, threshold=threshold)
            for name, method, threshold in tests
        ],
        include_tests=False,
    )
    cur_ds, ref_ds = _datasets(reference, current, columns)
    values = iter(_metric_values(report.run(cur_ds, ref_ds)))
    label_p = _p_value(next(values)) if columns.prediction is not None else 1.0
    confidence_p = _p_value(next(values)) if columns.confidence is not None else 1.0
    return label_p, confidence_p


def _metric_values(snapshot: Any) -> list[Any]:
    return [metric["value"] for metric in snapshot.dict()["metrics"]]


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    config: DriftConfig | None = None,
    *,
    columns: MonitoredColumns | None = None,
    checked_at: float | None = None,
) -> DriftVerdict:
    """Compare ``current`` (a window of traffic) with ``reference`` and return the verdict.

    ``columns``: the model's monitored columns (from its spec); by default the reference's own
    layout (:meth:`MonitoredColumns.infer`). Both frames need the feature columns; the window
    also needs each output column the reference has (a test the reference cannot take is
    skipped, with a note).

    Raises:
        DriftInputError: a frame lacks columns or rows.
    """
    import mlops_drift.stattests  # noqa: F401  (registers the two-sample label test)

    cfg = config or DriftConfig()
    usable, notes = _usable(reference, current, columns)
    started = time.perf_counter()
    with warnings.catch_warnings():
        # constant columns make scipy warn about dividing by zero; their p-value is still 1
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            features = score_features(
                reference,
                current,
                method=cfg.feature_method,
                threshold=cfg.feature_threshold,
                columns=usable.features,
            )
        except FeatureTestError as exc:
            raise DriftInputError(str(exc)) from exc
        label_p, confidence_p = _output_p_values(reference, current, usable, cfg)
    verdict = _verdict(
        cfg,
        reference,
        current,
        usable,
        features=features,
        label_p=label_p,
        confidence_p=confidence_p,
        checked_at=time.time() if checked_at is None else checked_at,
        duration_s=time.perf_counter() - started,
    )
    return replace(verdict, notes=notes)


def _p_value(value: Any) -> float:
    number = float(value)
    return 0.0 if math.isnan(number) else number


def _verdict(
    cfg: DriftConfig,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: MonitoredColumns,
    *,
    features: FeatureTests,
    label_p: float,
    confidence_p: float,
    checked_at: float,
    duration_s: float,
) -> DriftVerdict:
    ref_conf = cur_conf = math.nan
    if columns.confidence is not None:
        ref_conf = float(reference[columns.confidence].mean())
        cur_conf = float(current[columns.confidence].mean())
    drifted, share = features.count, features.share
    feature_drift = share >= cfg.feature_share
    label_drift = label_p < cfg.label_threshold
    confidence_drift = (
        confidence_p < cfg.confidence_threshold
        and abs(cur_conf - ref_conf) >= cfg.min_confidence_shift
    )
    reasons: list[str] = []
    if feature_drift:
        reasons.append(
            f"{drifted} of {len(features.scores)} features drifted (share {share:.2f} ≥ "
            f"{cfg.feature_share:.2f}, {cfg.feature_method} p < {cfg.feature_threshold:g})"
        )
    if label_drift:
        reasons.append(
            f"predicted-label distribution drifted ({cfg.label_method} p = {label_p:.2g} < "
            f"{cfg.label_threshold:g})"
        )
    if confidence_drift:
        reasons.append(
            f"mean confidence moved from {ref_conf:.3f} to {cur_conf:.3f} "
            f"({cfg.confidence_method} p = {confidence_p:.2g} < {cfg.confidence_threshold:g})"
        )
    return DriftVerdict(
        drift_detected=feature_drift or label_drift or confidence_drift,
        drifted_share=share,
        window_size=len(current),
        reference_size=len(reference),
        checked_at=checked_at,
        reasons=tuple(reasons),
        feature_drift=feature_drift,
        label_drift=label_drift,
        confidence_drift=confidence_drift,
        drifted_features=drifted,
        label_p_value=label_p,
        confidence_p_value=confidence_p,
        reference_confidence=ref_conf,
        window_confidence=cur_conf,
        duration_s=duration_s,
        features=features,
    )


def render_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    config: DriftConfig | None = None,
    columns: MonitoredColumns | None = None,
) -> str:
    """The full Evidently data-drift report (every column, with plots) as standalone HTML.

    Slow (seconds: plotly figures for every column); call it off the event loop and cache it.
    """
    from evidently import Report
    from evidently.presets import DataDriftPreset

    import mlops_drift.stattests  # noqa: F401

    cfg = config or DriftConfig()
    usable, _notes = _usable(reference, current, columns)
    methods: dict[str, str] = {}
    thresholds: dict[str, float] = {}
    if usable.prediction is not None:
        methods[usable.prediction] = cfg.label_method
        thresholds[usable.prediction] = cfg.label_threshold
    if usable.confidence is not None:
        methods[usable.confidence] = cfg.confidence_method
        thresholds[usable.confidence] = cfg.confidence_threshold
    preset = DataDriftPreset(
        columns=usable.names,
        drift_share=cfg.feature_share,
        num_method=cfg.feature_method,
        num_threshold=cfg.feature_threshold,
        per_column_method=methods,
        per_column_threshold=thresholds,
    )
    cur_ds, ref_ds = _datasets(reference, current, usable)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([preset]).run(cur_ds, ref_ds)
        html: str = snapshot.get_html_str(as_iframe=False)
    return html


def warm_up() -> None:
    """Import Evidently ahead of the first check (run in the check worker at start-up)."""
    import evidently.metrics
    import evidently.presets  # noqa: F401

    import mlops_drift.stattests  # noqa: F401
