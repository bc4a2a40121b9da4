"""Drift of the picked model: the latest verdict (or when the first check runs), per-feature
drift, the Evidently report and a check on demand."""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from mlops_frontend import picker, ui
from mlops_frontend.api import DriftVerdict, MalformedAnswerError, ServedModel
from mlops_frontend.client import ApiError, ClientError

REPORT_HEIGHT = 900
#: The gateway's error codes for a 404 before the drift service's first check (the drift
#: service's own code, or the gateway's generic one); ``model_not_found`` stays an error.
NO_VERDICT = frozenset({"no_verdict", "not_found"})


@st.cache_data(ttl=60, show_spinner="Building the Evidently report…")
def _report_html(gateway_url: str, name: str) -> str:
    """The report HTML, cached a minute per gateway and model (building it takes seconds)."""
    del gateway_url  # cache key only
    return ui.client().drift_report(name)


def no_check_text(verdict: DriftVerdict | None) -> str:
    """What to say before the first check: when the next one runs, if the status says."""
    if verdict is not None and verdict.next_check_at is not None:
        return f"No check yet — next check at {verdict.next_check_at:%H:%M:%S} UTC"
    if verdict is not None and verdict.check_interval_s:
        return f"No check yet; checks run every {verdict.check_interval_s:g} s"
    return "No check yet"


def _latest(name: str) -> DriftVerdict | None:
    """The verdict; before the first check (404 ``no_verdict``) an information box, not an
    error; any other failure an error box."""
    try:
        return ui.client().drift(name)
    except ApiError as exc:
        if exc.status == 404 and exc.code in NO_VERDICT:
            st.info(f"**{no_check_text(None)}** — {exc.message}", icon=":material/schedule:")
            return None
        st.error(ui.describe(exc), icon=ui.ERROR_ICON)
    except (ClientError, MalformedAnswerError) as exc:
        st.error(ui.describe(exc), icon=ui.ERROR_ICON)
    return None


def _no_check(verdict: DriftVerdict) -> None:
    st.info(
        f"**{no_check_text(verdict)}**: the drift service has not checked a full window "
        "of traffic yet.",
        icon=":material/schedule:",
    )


def _verdict(verdict: DriftVerdict) -> None:
    if verdict.drift_detected:
        st.error("**Drift detected**: live traffic no longer looks like the training data.")
    else:
        st.success("**No drift**: live traffic looks like the training data.")
    share, window, estimate = st.columns(3)
    share.metric(
        "Drifted features",
        f"{verdict.drifted_share:.0%}" if verdict.drifted_share is not None else "—",
    )
    window.metric("Window size", f"{verdict.window_size:,}" if verdict.window_size else "—")
    _estimate(estimate, verdict)
    when = f"Checked at {ui.timestamp(verdict.checked_at)}"
    if verdict.next_check_at is not None:
        when += f" · next check at {ui.timestamp(verdict.next_check_at)}"
    st.caption(when)
    if verdict.reasons:
        st.markdown("**Why**\n" + "\n".join(f"- {reason}" for reason in verdict.reasons))


def _estimate(column: Any, verdict: DriftVerdict) -> None:
    """The label-free accuracy estimate of the window, with its change from the reference."""
    value, baseline = verdict.estimated_accuracy, verdict.reference_estimated_accuracy
    if value is None:
        column.metric("Estimated accuracy", "—")
        return
    delta = f"{value - baseline:+.1%} vs reference" if baseline is not None else None
    column.metric(
        "Estimated accuracy",
        f"{value:.1%}",
        delta=delta,
        help="Confidence-based performance estimation (CBPE): the mean of the window's "
        "confidences mapped through the version's calibration; no labels needed"
        + ("" if verdict.calibrated else " (this version has no calibration: raw confidence)"),
    )


def _pixel(name: str) -> tuple[int, int] | None:
    """(row, column) of a digits pixel feature ``pixel_<row>_<column>``, else None."""
    parts = name.split("_")
    if len(parts) == 3 and parts[0] == "pixel" and parts[1].isdigit() and parts[2].isdigit():
        return int(parts[1]), int(parts[2])
    return None


def feature_frame(verdict: DriftVerdict) -> pd.DataFrame:
    """One row per feature: its name, score, drift strength, drift flag, and its place on the
    digits grid when it is a pixel."""
    test = verdict.feature_test
    drifted = set(verdict.drifted_features)
    rows = []
    for name, score in verdict.feature_scores.items():
        place = _pixel(name)
        rows.append(
            {
                "feature": name,
                "row": place[0] if place else None,
                "column": place[1] if place else None,
                "score": score,
                # −log10 p grows with the evidence of drift; a distance already does
                "strength": -math.log10(max(score, 1e-300)) if test.score_is_p_value else score,
                "drifted": name in drifted,
            }
        )
    return pd.DataFrame(rows)


def _chart(frame: pd.DataFrame, strength: str, title: str) -> alt.LayerChart:
    """A heat map of the pixel grid when every feature is a pixel, else a bar per feature."""
    tooltip: list[str | alt.Tooltip] = [
        "feature",
        alt.Tooltip("score:Q", format=".3g"),
        "drifted",
    ]
    color = alt.Color("strength:Q", scale=alt.Scale(scheme="orangered"), title=strength)
    if frame["row"].notna().all():
        base = alt.Chart(frame, title=title).encode(
            x=alt.X("column:O", title="Column"), y=alt.Y("row:O", title="Row"), tooltip=tooltip
        )
        heat = base.mark_rect().encode(color=color)
        marks = base.transform_filter(alt.datum.drifted).mark_text(text="●", color="black")
        grid: alt.LayerChart = (heat + marks).properties(width=320, height=320)
        return grid
    base = alt.Chart(frame, title=title).encode(
        x=alt.X("feature:N", sort=None, title="Feature", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("strength:Q", title=strength),
        tooltip=tooltip,
    )
    bars = base.mark_bar().encode(color=color)
    marks = base.transform_filter(alt.datum.drifted).mark_text(text="●", dy=-8, color="black")
    chart: alt.LayerChart = (bars + marks).properties(height=280)
    return chart


def _feature_chart(verdict: DriftVerdict) -> None:
    st.subheader("Drift per feature")
    frame = feature_frame(verdict)
    if frame.empty:
        st.info(
            "No per-feature scores in the latest verdict; "
            "the Evidently report holds the test of every feature."
        )
        return
    test = verdict.feature_test
    strength = "−log10 p" if test.score_is_p_value else "score"
    noun = "pixels" if frame["row"].notna().all() else "features"
    title = f"Drift of each {noun[:-1]} ({test.name}; {strength})"
    st.altair_chart(
        _chart(frame, strength, title), width="stretch" if noun == "features" else "content"
    )
    rule = "p <" if test.score_is_p_value else "score ≥"
    st.caption(
        f"{len(verdict.drifted_features)} of {len(frame)} {noun} drifted "
        f"({test.method} {rule} {test.threshold:g}; ● marks them)."
    )


def _check_now(name: str) -> None:
    config = ui.settings()
    with st.expander(f"Run a drift check of `{name}` now (admin)"):
        key = ui.admin_key(config, "drift_check_key")
        clicked = st.button("Run a drift check now", key="drift_check")
    if not clicked:
        return
    if not key:
        st.warning("Enter the admin API key first.")
        return
    with st.spinner("Checking the current window…"):
        verdict = ui.fetch(lambda: ui.client(config).run_drift_check(name, key))
    if verdict is not None:
        _report_html.clear()
        st.toast("Drift check finished.")


def _report(model: ServedModel) -> None:
    st.subheader("Evidently report")
    if not st.toggle("Show the full report (takes a few seconds to build)", key="drift_report"):
        return
    config = ui.settings()
    html = ui.fetch(lambda: _report_html(config.gateway_url, model.name))
    if html is not None:
        # Trusted HTML: our own drift service renders it from Evidently.
        st.iframe(html, height=REPORT_HEIGHT)


def render() -> None:
    """The Drift page."""
    model = picker.current()
    st.title(f"Drift of `{model.name}`")
    st.write("Is live traffic still like the data the serving model was trained on?")
    _check_now(model.name)
    verdict = _latest(model.name)
    if verdict is not None and verdict.drift_detected is None:
        _no_check(verdict)
    if verdict is None or verdict.drift_detected is None:
        return  # no check yet (said above), so no scores and no report either
    _verdict(verdict)
    _feature_chart(verdict)
    _report(model)


render()
