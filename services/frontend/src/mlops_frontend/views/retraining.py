"""Retraining: start a job for the picked model, watch its stage and progress until it ends,
see the decision. A model whose spec says ``trainable: false`` gets the reason, and a disabled
button."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mlops_frontend import picker, ui
from mlops_frontend.api import JobStatus, RetrainResult, ServedModel

JOB_KEY = "retrain_job_id"
FINAL_KEY = "retrain_final_status"
#: The metric the promotion rule compares (``mlops_common.promotion.should_promote``).
ACCURACY = "test_accuracy"

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


def _start_form(model: ServedModel) -> None:
    config = ui.settings()
    if not model.trainable:
        st.info(f"**Retraining is off** for `{model.name}`: {ui.NOT_TRAINABLE}")
    with st.form("retrain_form"):
        reason = st.text_input("Reason", value="manual retrain from the frontend", max_chars=200)
        overrides = st.text_area(
            "Hydra overrides (optional, one per line)",
            placeholder="trainer.max_epochs=5\nmodel=mlp",
            height=80,
        )
        key = ui.admin_key(config, "retrain_key")
        submitted = st.form_submit_button(
            "Start retraining",
            type="primary",
            disabled=not model.trainable,
            help=None if model.trainable else "This model cannot be retrained here.",
        )
    if not submitted or not model.trainable:
        return
    if not key:
        st.warning("Enter the admin API key first.")
        return
    lines = [line.strip() for line in overrides.splitlines() if line.strip()]
    job_id = ui.fetch(
        lambda: ui.client(config).start_retrain(model.name, reason.strip() or "manual", lines, key)
    )
    if job_id:
        st.session_state[JOB_KEY] = job_id
        st.session_state.pop(FINAL_KEY, None)
        st.toast(f"Retraining job {job_id} of {model.name} queued.")


def _metrics_table(result: RetrainResult) -> pd.DataFrame | None:
    """The candidate's test metrics beside production's on the same held-out set."""
    columns = {"Candidate": result.metrics}
    if result.production_metrics:
        title = f"Production {ui.version_label(result.production_version)}"
        columns[title if result.production_version else "Production"] = result.production_metrics
    if not any(columns.values()):
        return None
    return pd.DataFrame(columns)


def _explanation(result: RetrainResult) -> str:
    """The result's own decision sentence, else one read from the two accuracies."""
    if result.decision:
        return result.decision
    candidate = result.metrics.get(ACCURACY)
    production = result.production_metrics.get(ACCURACY)
    if candidate is None:
        return ""
    if production is None:
        return f"Candidate {ACCURACY} {candidate:.3f}; there was no production model to beat."
    return f"Candidate {ACCURACY} {candidate:.3f} vs production {production:.3f}."


def _details(result: RetrainResult) -> str:
    parts = []
    if result.run_id:
        parts.append(f"MLflow run `{result.run_id}`")
    if result.data_hash:
        parts.append(f"data `{result.data_hash[:12]}`")
    if result.parity:
        ok = "✓" if result.parity.get("ok") else "✗"
        diff = result.parity.get("max_abs_diff")
        shown = f" (max diff {diff:.1e})" if isinstance(diff, int | float) else ""
        parts.append(f"ONNX parity {ok}{shown}")
    if result.duration_s is not None:
        parts.append(f"{result.duration_s:,.0f} s")
    return " · ".join(parts)


def _outcome(status: JobStatus) -> None:
    if status.state != "SUCCESS":
        st.error(
            f"**The job {STATE_TEXT.get(status.state, status.state).lower()}**: "
            f"{status.error or 'no detail given'}"
        )
        return
    result = status.outcome
    if result.skipped:
        st.info(f"**Skipped** — {result.decision or 'another retraining job was running'}")
        return
    why = _explanation(result)
    version = ui.version_label(result.version)
    serving = ui.version_label(result.production_version)
    if result.promoted:
        was = f" (was {serving})" if result.production_version else ""
        st.success(f"**Promoted**: version {version} now serves{was}. {why}".rstrip())
    elif result.promoted is False and result.version:
        st.warning(
            f"**Not promoted**: version {version} was registered as staging; production stays "
            f"at {serving}. {why}".rstrip()
        )
    elif result.promoted is False:
        st.info(f"**Trained, not registered** (registration is off). {why}".rstrip())
    else:
        st.info("The job finished without saying whether it promoted the model.")
    table = _metrics_table(result)
    if table is not None:
        st.dataframe(table, width="stretch")
    details = _details(result)
    if details:
        st.caption(details)
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
    model = picker.current()
    st.title(f"Retraining `{model.name}`")
    st.write(
        "Train a new candidate on the training data plus the labelled feedback; it replaces "
        "the serving model only if it scores at least as well on the same held-out set."
    )
    _start_form(model)
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
