"""Model: the version serving now, every registered version, promotion and rollback."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mlops_frontend import ui
from mlops_frontend.api import MalformedAnswerError, ModelVersion
from mlops_frontend.client import ApiError, ClientError

#: Metrics shown first, with their labels; any others follow under their own names.
KNOWN_METRICS = {"test_accuracy": "Test accuracy", "test_f1": "Test F1"}
FLASH_KEY = "model_flash"


def _serving(model: ModelVersion) -> None:
    st.subheader("Serving now")
    columns = st.columns(2 + len(KNOWN_METRICS))
    columns[0].metric("Version", ui.version_label(model.version))
    columns[1].metric("Registered", (model.created_at or "—")[:19].replace("T", " "))
    for column, (key, label) in zip(columns[2:], KNOWN_METRICS.items(), strict=True):
        value = model.metrics.get(key)
        column.metric(label, f"{value:.2%}" if value is not None else "—")
    others = {k: v for k, v in model.metrics.items() if k not in KNOWN_METRICS}
    if others:
        st.caption(" · ".join(f"{k} = {v:.4g}" for k, v in sorted(others.items())))
    st.caption(f"Model `{model.name}`" + (f" · run `{model.run_id}`" if model.run_id else ""))


def _versions_table(versions: list[ModelVersion], serving: str | None) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Version": ui.version_label(v.version),
                "Serving": "● serving" if v.version == serving else "",
                "Aliases": ", ".join(v.aliases) or "—",
                "Test accuracy": v.metrics.get("test_accuracy"),
                "Test F1": v.metrics.get("test_f1"),
                "Registered": (v.created_at or "")[:19].replace("T", " "),
            }
            for v in versions
        ]
    )


def _promote_form(versions: list[ModelVersion], serving: str | None) -> None:
    st.subheader("Promote or roll back")
    candidates = [v.version for v in versions if v.version != serving]
    if not candidates:
        st.info("No other registered version to switch to.")
        return
    config = ui.settings()
    with st.form("promote_form"):
        chosen = st.selectbox(
            "Version to serve",
            options=candidates,
            format_func=lambda v: _action_label(v, serving),
            key="promote_version",
        )
        key = ui.admin_key(config, "promote_key")
        submitted = st.form_submit_button("Switch the serving model", type="primary")
    if submitted and chosen:
        if not key:
            st.warning("Enter the admin API key first.")
            return
        answer = ui.fetch(lambda: ui.client(config).promote(chosen, key))
        if answer is not None:
            previous = answer.previous_version or serving
            st.session_state[FLASH_KEY] = (
                f"Version {ui.version_label(chosen)} is now in production "
                f"(was {ui.version_label(previous)}). Inference picks it up within seconds."
            )
            st.rerun()


def _action_label(version: str, serving: str | None) -> str:
    if serving and serving.isdigit() and version.isdigit():
        verb = "roll back to" if int(version) < int(serving) else "promote"
        return f"{ui.version_label(version)} ({verb})"
    return ui.version_label(version)


def render() -> None:
    """The Model page."""
    st.title("Model")
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    client = ui.client()
    try:
        serving: ModelVersion | None = client.serving_model()
    except ApiError as exc:
        if exc.status != 404:
            st.error(ui.describe(exc), icon=ui.ERROR_ICON)
            return
        serving = None
        st.info("No model serves yet: promote a registered version below.")
    except (ClientError, MalformedAnswerError) as exc:
        st.error(ui.describe(exc), icon=ui.ERROR_ICON)
        return
    if serving is not None:
        _serving(serving)
    versions = ui.fetch(client.model_versions)
    if versions is None:
        return
    st.subheader("Registered versions")
    if not versions:
        st.info("No version is registered yet: train one with `mlops-train train`.")
        return
    st.dataframe(
        _versions_table(versions, serving.version if serving else None),
        hide_index=True,
        use_container_width=True,
        column_config={
            "Test accuracy": st.column_config.NumberColumn(format="percent"),
            "Test F1": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    _promote_form(versions, serving.version if serving else None)


render()
