"""Rollout: the picked model's production version beside its staged candidate on live traffic
(agreement, live accuracy on labelled rows, confidence, latency), its probation and pin, the
decision log, and the admin's actions (shadowing on/off and its share, pin/unpin, end
probation)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from mlops_frontend import picker, ui
from mlops_frontend.rollout_api import Decision, Rollout, ShadowStats, VersionStats

FLASH_KEY = "rollout_flash"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _versions(rollout: Rollout) -> None:
    production = rollout.production.version
    candidate = rollout.candidate.version if rollout.candidate else None
    shadow = rollout.shadow
    share = "default share" if shadow.share is None else f"{shadow.share:.0%} of requests"
    columns = st.columns(4)
    columns[0].metric("Production", ui.version_label(production))
    columns[1].metric("Candidate", ui.version_label(candidate) if candidate else "none")
    columns[2].metric("Shadowing", f"on, {share}" if shadow.enabled else "off")
    columns[3].metric("Pinned", ui.version_label(rollout.pinned) if rollout.pinned else "no")
    probation = rollout.probation
    if probation is not None and probation.active:
        st.info(
            f"**{ui.version_label(probation.version)} is on probation** (it replaced "
            f"{ui.version_label(probation.previous)}) until {ui.timestamp(probation.until_time)}: "
            "a regression rolls it back" + (" — unless it is pinned." if rollout.pinned else "."),
            icon=":material/hourglass_top:",
        )
    else:
        st.caption("No version is on probation.")
    if rollout.pinned:
        st.caption(
            f"{ui.version_label(rollout.pinned)} is pinned: no automatic rollback or promotion."
        )


def _figures(stats: VersionStats) -> dict[str, Any]:
    return {
        "Live accuracy": stats.accuracy,
        "Mean confidence": stats.mean_confidence,
        "Latency p50 (ms)": stats.p50_ms,
        "Latency p99 (ms)": stats.p99_ms,
        "Rows": stats.rows,
        "Labelled rows": stats.labelled,
    }


def comparison(stats: ShadowStats) -> pd.DataFrame:
    """Production and candidate side by side, one row per figure."""
    return pd.DataFrame(
        {
            f"Production {ui.version_label(stats.production.version)}": _figures(stats.production),
            f"Candidate {ui.version_label(stats.candidate.version)}": _figures(stats.candidate),
        }
    )


def _live(rollout: Rollout) -> None:
    st.subheader("Live comparison")
    stats = rollout.stats
    if stats is None:
        st.info("No candidate: the `staging` version is production (or there is none).")
        return
    columns = st.columns(3)
    columns[0].metric("Agreement", _percent(stats.agreement))
    columns[1].metric("Shadowed requests", f"{stats.requests:,}")
    columns[2].metric("Labelled rows", f"{stats.candidate.labelled:,} of {stats.rows:,}")
    if not stats.requests:
        st.caption("No shadowed request of this pair yet.")
        return
    st.dataframe(comparison(stats), width="stretch")
    skipped = rollout.skipped
    if skipped.shadow or skipped.feedback:
        st.caption(
            f"Left out: {skipped.shadow} unreadable shadow records, {skipped.feedback} "
            "unreadable feedback labels."
        )


def decisions_table(decisions: tuple[Decision, ...]) -> pd.DataFrame:
    """The decision log, newest first."""
    return pd.DataFrame(
        [
            {
                "Time": ui.timestamp(dt.datetime.fromtimestamp(d.timestamp, tz=dt.UTC)),
                "Action": d.action,
                "Version": ui.version_label(d.version) if d.version else "—",
                "Previous": ui.version_label(d.previous) if d.previous else "—",
                "By": d.by,
                "Reason": d.reason,
            }
            for d in decisions
        ],
        columns=["Time", "Action", "Version", "Previous", "By", "Reason"],
    )


def _log(rollout: Rollout) -> None:
    st.subheader("Decisions")
    if not rollout.decisions:
        st.caption("No decision yet.")
        return
    st.dataframe(decisions_table(rollout.decisions), hide_index=True, width="stretch")


def _act(name: str, body: dict[str, Any], key: str, done: str) -> None:
    if not key:
        st.warning("Enter the admin API key first.")
        return
    answer = ui.fetch(lambda: ui.client().rollout_action(name, body, key))
    if answer is not None:
        st.session_state[FLASH_KEY] = done
        st.rerun()


def _actions(name: str, rollout: Rollout, versions: list[str]) -> None:
    st.subheader("Actions")
    key = ui.admin_key(ui.settings(), "rollout_key")
    left, right = st.columns(2)
    with left, st.form("rollout_shadow"):
        enabled = st.toggle("Shadow the candidate", value=rollout.shadow.enabled)
        share = st.slider(
            "Share of live requests",
            min_value=0.0,
            max_value=1.0,
            value=rollout.shadow.share if rollout.shadow.share is not None else 0.1,
            step=0.05,
            key="rollout_share",
        )
        set_share = st.checkbox("Set the share", value=rollout.shadow.share is not None)
        if st.form_submit_button("Apply shadowing"):
            body: dict[str, Any] = {"action": "shadow", "enabled": enabled}
            if set_share:
                body["share"] = share
            _act(name, body, key, f"Shadowing of `{name}` is {'on' if enabled else 'off'}.")
    with right:
        with st.form("rollout_pin"):
            production = rollout.production.version
            chosen = st.selectbox(
                "Version to pin",
                options=versions or ([production] if production else []),
                key="rollout_pin_version",
                format_func=ui.version_label,
                help="A version that is not production is promoted first.",
            )
            if st.form_submit_button("Pin", disabled=not versions) and chosen:
                _act(
                    name,
                    {"action": "pin", "version": chosen},
                    key,
                    f"{ui.version_label(chosen)} of `{name}` is pinned.",
                )
        if rollout.pinned and st.button("Unpin", key="rollout_unpin"):
            _act(name, {"action": "unpin"}, key, f"`{name}` is unpinned.")
        active = rollout.probation is not None and rollout.probation.active
        if active and st.button("End probation", key="rollout_end_probation"):
            _act(name, {"action": "end_probation"}, key, "Probation ended.")


def render() -> None:
    """The Rollout page."""
    served = picker.current()
    st.title(f"Rollout of `{served.name}`")
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    rollout = ui.fetch(lambda: ui.client().rollout(served.name))
    if rollout is None:
        return
    _versions(rollout)
    _live(rollout)
    _log(rollout)
    detail = ui.fetch(lambda: ui.client().model(served.name))
    versions = [v.version for v in detail.versions] if detail is not None else []
    _actions(served.name, rollout, versions)


render()
