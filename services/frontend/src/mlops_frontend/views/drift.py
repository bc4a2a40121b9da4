"""Drift: the latest verdict, per-feature drift, the Evidently report and a check on demand."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from mlops_common.features import IMAGE_SIDE
from mlops_frontend import ui
from mlops_frontend.api import DriftVerdict, MalformedAnswerError
from mlops_frontend.client import ClientError

REPORT_HEIGHT = 900
#: p-value under which a feature counts as drifted on the chart (the drift service's default).
FEATURE_P_THRESHOLD = 0.001


@st.cache_data(ttl=60, show_spinner="Building the Evidently report…")
def _report_html(gateway_url: str, drift_url: str) -> str:
    """The report HTML, cached a minute per service (building it takes seconds)."""
    del gateway_url, drift_url  # cache keys only
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


def _feature_frame(scores: dict[str, float]) -> pd.DataFrame:
    rows = []
    for name, score in scores.items():
        parts = name.split("_")
        if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
            continue
        rows.append(
            {
                "feature": name,
                "row": int(parts[1]),
                "column": int(parts[2]),
                "p_value": score,
                "strength": -math.log10(max(score, 1e-12)),
                "drifted": score < FEATURE_P_THRESHOLD,
            }
        )
    return pd.DataFrame(rows)


def _feature_scores(verdict: DriftVerdict) -> dict[str, float]:
    if verdict.feature_scores:
        return verdict.feature_scores
    try:
        return ui.client().drift_feature_scores()
    except (ClientError, MalformedAnswerError):
        return {}


def _feature_chart(verdict: DriftVerdict) -> None:
    st.subheader("Drift per feature")
    frame = _feature_frame(_feature_scores(verdict))
    if frame.empty:
        st.info(
            "No per-feature scores in the latest verdict; "
            "the Evidently report below holds the test of every pixel."
        )
        return
    heat = (
        alt.Chart(frame, title="Drift strength of each pixel (−log10 p)")
        .mark_rect()
        .encode(
            x=alt.X("column:O", title="Column"),
            y=alt.Y("row:O", title="Row"),
            color=alt.Color("strength:Q", scale=alt.Scale(scheme="orangered"), title="−log10 p"),
            tooltip=["feature", alt.Tooltip("p_value:Q", format=".2g"), "drifted"],
        )
        .properties(width=320, height=320)
    )
    st.altair_chart(heat)
    drifted = int(frame["drifted"].sum())
    st.caption(
        f"{drifted} of {IMAGE_SIDE * IMAGE_SIDE} pixels drifted (p < {FEATURE_P_THRESHOLD:g})."
    )


def _check_now() -> None:
    if st.button("Run a drift check now", key="drift_check"):
        with st.spinner("Checking the current window…"):
            verdict = ui.fetch(ui.client().run_drift_check)
        if verdict is not None:
            _report_html.clear()
            st.toast("Drift check finished.")
            st.session_state["drift_checked"] = True


def _report() -> None:
    st.subheader("Evidently report")
    if not st.toggle("Show the full report (takes a few seconds to build)", key="drift_report"):
        return
    config = ui.settings()
    html = ui.fetch(lambda: _report_html(config.gateway_url, config.drift_url))
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
