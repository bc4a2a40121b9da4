"""Retraining: start a job, watch its stage and progress until it ends, see the decision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from mlops_frontend import ui
from mlops_frontend.api import JobStatus

JOB_KEY = "retrain_job_id"
FINAL_KEY = "retrain_final_status"

STATE_TEXT = {
    "PENDING": "Queued: waiting for a training worker to pick it up",
    "RECEIVED": "Received by a worker",
    "STARTED": "Started",
    "PROGRESS": "Running",
    "RETRY": "Retrying after an error",
    "SUCCESS": "Finished",
    "FAILURE": "Failed",
    "REVOKED": "Cancelled",
}


def _start_form() -> None:
    config = ui.settings()
    with st.form("retrain_form"):
        reason = st.text_input("Reason", value="manual retrain from the frontend", max_chars=200)
        overrides = st.text_area(
            "Hydra overrides (optional, one per line)",
            placeholder="trainer.max_epochs=5\nmodel=mlp",
            height=80,
        )
        key = ui.admin_key(config, "retrain_key")
        submitted = st.form_submit_button("Start retraining", type="primary")
    if not submitted:
        return
    if not key:
        st.warning("Enter the admin API key first.")
        return
    lines = [line.strip() for line in overrides.splitlines() if line.strip()]
    job_id = ui.fetch(
        lambda: ui.client(config).start_retrain(reason.strip() or "manual", lines, key)
    )
    if job_id:
        st.session_state[JOB_KEY] = job_id
        st.session_state.pop(FINAL_KEY, None)
        st.toast(f"Retraining job {job_id} queued.")


def _metrics_table(result: Mapping[str, Any]) -> pd.DataFrame | None:
    """Candidate vs production metrics when the result holds both; else the candidate's."""
    columns = {}
    for key, title in (
        ("metrics", "Candidate"),
        ("candidate_metrics", "Candidate"),
        ("production_metrics", "Production"),
        ("baseline_metrics", "Production"),
    ):
        value = result.get(key)
        if isinstance(value, Mapping) and title not in columns:
            columns[title] = {k: v for k, v in value.items() if isinstance(v, int | float)}
    if not columns:
        return None
    return pd.DataFrame(columns)


def _outcome(status: JobStatus) -> None:
    if status.state != "SUCCESS":
        st.error(
            f"**The job {STATE_TEXT.get(status.state, status.state).lower()}**: "
            f"{status.error or 'no detail given'}"
        )
        return
    version = status.result.get("version")
    why = status.decision
    if status.promoted:
        st.success(
            f"**Promoted**: version {ui.version_label(str(version))} now serves."
            + (f" {why}" if why else "")
        )
    elif status.promoted is False:
        st.warning(
            f"**Not promoted**: version {ui.version_label(str(version))} was registered as "
            "staging, but production stays." + (f" {why}" if why else "")
        )
    else:
        st.info("The job finished without saying whether it promoted the model.")
    table = _metrics_table(status.result)
    if table is not None:
        st.dataframe(table, use_container_width=True)
    with st.expander("Full job result"):
        st.json(status.result)


def _show(status: JobStatus) -> None:
    st.markdown(f"**Job** `{status.job_id}` — {STATE_TEXT.get(status.state, status.state)}")
    if status.finished:
        st.progress(1.0, text="Done")
        _outcome(status)
        return
    stage = status.stage or STATE_TEXT.get(status.state, status.state)
    text = stage + (f" · epoch {status.epoch}" if status.epoch is not None else "")
    st.progress(status.progress or 0.0, text=text)


def _poll_interval() -> float:
    try:
        return ui.settings().job_poll_interval_s
    except ui.SettingsError:
        return 1.0


@st.fragment(run_every=_poll_interval())
def _live_job() -> None:
    """Refreshes on its own until the job ends, then reruns the page once to stop polling."""
    job_id = st.session_state.get(JOB_KEY)
    if not job_id:
        return
    status = ui.fetch(lambda: ui.client().job(job_id))
    if status is None:
        return
    _show(status)
    if status.finished:
        st.session_state[FINAL_KEY] = status
        st.rerun()


def render() -> None:
    """The Retraining page."""
    st.title("Retraining")
    st.write(
        "Train a new candidate on the training data plus the labelled feedback; it replaces "
        "the serving model only if it scores at least as well on the same held-out set."
    )
    _start_form()
    with st.expander("Follow another job"):
        other = st.text_input("Job id", key="retrain_follow").strip()
        if other and other != st.session_state.get(JOB_KEY):
            st.session_state[JOB_KEY] = other
            st.session_state.pop(FINAL_KEY, None)
    if not st.session_state.get(JOB_KEY):
        st.info("No job yet: start one above.")
        return
    st.subheader("Progress")
    final = st.session_state.get(FINAL_KEY)
    if isinstance(final, JobStatus) and final.job_id == st.session_state[JOB_KEY]:
        _show(final)
    else:
        _live_job()


render()
