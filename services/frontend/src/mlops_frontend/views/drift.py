"""Drift: the latest verdict, per-feature drift, the Evidently report and a check on demand."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from mlops_common.features import IMAGE_SIDE
from mlops_frontend import ui
from mlops_frontend.api import DriftVerdict

REPORT_HEIGHT = 900


@st.cache_data(ttl=60, show_spinner="Building the Evidently report…")
def _report_html(gateway_url: str) -> str:
    """The report HTML, cached a minute per gateway (building it takes seconds)."""
    del gateway_url  # cache key only
    return ui.client().drift_report()


def _verdict(verdict: DriftVerdict) -> None:
    if verdict.drift_detected is None:
        st.info("No verdict yet: the drift service has not checked a full window of traffic.")
    elif verdict.drift_detected:
        st.error("**Drift detected**: live traffic no longer looks like the training data.")
    else:
        st.success("**No drift**: live traffic looks like the training data.")
    share, window, checked = st.columns(3)
    share.metric(
        "Drifted features",
        f"{verdict.drifted_share:.0%}" if verdict.drifted_share is not None else "—",
    )
    window.metric("Window size", f"{verdict.window_size:,}" if verdict.window_size else "—")
    checked.metric(
        "Checked at",
        verdict.checked_at.strftime("%Y-%m-%d %H:%M:%S UTC") if verdict.checked_at else "—",
    )
    if verdict.reasons:
        st.markdown("**Why**\n" + "\n".join(f"- {reason}" for reason in verdict.reasons))


def _feature_frame(verdict: DriftVerdict) -> pd.DataFrame:
    """One row per pixel: its place on the grid, score, drift strength and drift flag."""
    test = verdict.feature_test
    drifted = set(verdict.drifted_features)
    rows = []
    for name, score in verdict.feature_scores.items():
        parts = name.split("_")
        if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
            continue
        rows.append(
            {
                "feature": name,
                "row": int(parts[1]),
                "column": int(parts[2]),
                "score": score,
                # −log10 p grows with the evidence of drift; a distance already does
                "strength": -math.log10(max(score, 1e-300)) if test.score_is_p_value else score,
                "drifted": name in drifted,
            }
        )
    return pd.DataFrame(rows)


def _feature_chart(verdict: DriftVerdict) -> None:
    st.subheader("Drift per feature")
    frame = _feature_frame(verdict)
    if frame.empty:
        st.info(
            "No per-feature scores in the latest verdict; "
            "the Evidently report below holds the test of every pixel."
        )
        return
    test = verdict.feature_test
    strength = "−log10 p" if test.score_is_p_value else "score"
    base = alt.Chart(frame, title=f"Drift of each pixel ({test.name}; {strength})").encode(
        x=alt.X("column:O", title="Column"),
        y=alt.Y("row:O", title="Row"),
        tooltip=["feature", alt.Tooltip("score:Q", format=".3g"), "drifted"],
    )
    heat = base.mark_rect().encode(
        color=alt.Color("strength:Q", scale=alt.Scale(scheme="orangered"), title=strength)
    )
    marks = base.transform_filter(alt.datum.drifted).mark_text(text="●", color="black")
    st.altair_chart((heat + marks).properties(width=320, height=320))
    rule = "p <" if test.score_is_p_value else "score ≥"
    st.caption(
        f"{len(verdict.drifted_features)} of {IMAGE_SIDE * IMAGE_SIDE} pixels drifted "
        f"({test.method} {rule} {test.threshold:g}; ● marks them)."
    )


def _check_now() -> None:
    config = ui.settings()
    with st.expander("Run a drift check now (admin)"):
        key = ui.admin_key(config, "drift_check_key")
        clicked = st.button("Run a drift check now", key="drift_check")
    if not clicked:
        return
    if not key:
        st.warning("Enter the admin API key first.")
        return
    with st.spinner("Checking the current window…"):
        verdict = ui.fetch(lambda: ui.client(config).run_drift_check(key))
    if verdict is not None:
        _report_html.clear()
        st.toast("Drift check finished.")


def _report() -> None:
    st.subheader("Evidently report")
    if not st.toggle("Show the full report (takes a few seconds to build)", key="drift_report"):
        return
    config = ui.settings()
    html = ui.fetch(lambda: _report_html(config.gateway_url))
    if html is not None:
        # Trusted HTML: our own drift service renders it from Evidently.
        st.iframe(html, height=REPORT_HEIGHT)


def render() -> None:
    """The Drift page."""
    st.title("Drift")
    st.write("Is live traffic still like the data the serving model was trained on?")
    _check_now()
    verdict = ui.fetch(ui.client().drift)
    if verdict is not None:
        _verdict(verdict)
        _feature_chart(verdict)
    _report()


render()
