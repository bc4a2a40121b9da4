"""Model: the picked model's spec, the version serving now, every registered version,
promotion and rollback, and whether the platform can retrain it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mlops_common.model_spec import ModelSpec
from mlops_frontend import picker, ui
from mlops_frontend.api import ModelDetail, ModelVersion, ServedModel

#: Metrics shown first, with their labels; any others follow under their own names.
KNOWN_METRICS = {"test_accuracy": "Test accuracy", "test_f1": "Test F1"}
FLASH_KEY = "model_flash"


def _serving(detail: ModelDetail, served: ServedModel) -> str | None:
    """The version the registry's ``production`` alias names (what inference serves after a
    promotion), shown with its metrics; returns its number."""
    st.subheader("Serving now")
    production = detail.production()
    if production is None:
        if served.version:  # served from a URI outside the registry's production alias
            st.caption(f"Inference serves {ui.version_label(served.version)}.")
        st.info("No registered version is in production: promote one below.")
        return None
    columns = st.columns(1 + len(KNOWN_METRICS))
    columns[0].metric("Version", ui.version_label(production.version))
    for column, (key, label) in zip(columns[1:], KNOWN_METRICS.items(), strict=True):
        value = production.metrics.get(key)
        column.metric(label, f"{value:.2%}" if value is not None else "—")
    others = {k: v for k, v in production.metrics.items() if k not in KNOWN_METRICS}
    if others:
        st.caption(" · ".join(f"{k} = {v:.4g}" for k, v in sorted(others.items())))
    run = f" · run `{production.run_id}`" if production.run_id else ""
    st.caption(f"Registered {ui.timestamp(production.created_at)}{run}")
    if served.version and served.version != production.version:
        st.caption(
            f"Inference still serves {ui.version_label(served.version)}; it switches within "
            "seconds."
        )
    return production.version


def _spec(spec: ModelSpec | None) -> None:
    if spec is None:
        st.caption("No model spec is known for this model.")
        return
    shape = "×".join("any" if d == -1 else str(d) for d in spec.input.shape)
    bounds = (
        f", values in {spec.input.range[0]:g}…{spec.input.range[1]:g}" if spec.input.range else ""
    )
    classes = ", ".join(spec.classes[:20]) + (" …" if len(spec.classes) > 20 else "")
    st.markdown(
        f"**Task** `{spec.task}` · **input** {spec.input.kind} `{spec.input.tensor}` "
        f"{spec.input.datatype} [{shape}]{bounds} · **preprocessing** `{spec.preprocessing}`  \n"
        f"**{len(spec.classes)} classes**: {classes}"
    )


def _retraining(detail: ModelDetail) -> None:
    """A link to retrain the model; disabled, with the reason, when its spec forbids it."""
    if not detail.trainable:
        st.info(f"**Retraining is off** for `{detail.name}`: {ui.NOT_TRAINABLE}")
    st.page_link(
        "views/retraining.py",
        label="Retrain this model",
        icon=":material/autorenew:",
        disabled=not detail.trainable,
        help=None if detail.trainable else "Its spec says trainable: false.",
    )


def _versions_table(versions: tuple[ModelVersion, ...], serving: str | None) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Version": ui.version_label(v.version),
                "Serving": "● serving" if v.version == serving else "",
                "Aliases": ", ".join(v.aliases) or "—",
                "Test accuracy": v.metrics.get("test_accuracy"),
                "Test F1": v.metrics.get("test_f1"),
                "Registered": ui.timestamp(v.created_at),
            }
            for v in versions
        ]
    )


def _promote_form(name: str, versions: tuple[ModelVersion, ...], serving: str | None) -> None:
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
        answer = ui.fetch(lambda: ui.client(config).promote(name, chosen, key))
        if answer is not None:
            previous = answer.previous_version or serving
            st.session_state[FLASH_KEY] = (
                f"Version {ui.version_label(chosen)} of `{name}` is now in production "
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
    served = picker.current()
    st.title(f"Model `{served.name}`")
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    if not served.ready:
        st.warning(f"**Not ready**: {served.reason or 'no reason given'}")
    detail = ui.fetch(lambda: ui.client().model(served.name))
    if detail is None:
        return
    _spec(detail.spec or served.spec)
    serving = _serving(detail, served)
    _retraining(detail)
    st.subheader("Registered versions")
    if not detail.versions:
        st.info("No version is registered yet: train one with `mlops-train train`.")
        return
    st.dataframe(
        _versions_table(detail.versions, serving),
        hide_index=True,
        width="stretch",
        column_config={
            "Test accuracy": st.column_config.NumberColumn(format="percent"),
            "Test F1": st.column_config.NumberColumn(format="%.3f"),
            "Registered": st.column_config.TextColumn(width="medium"),
        },
    )
    _promote_form(served.name, detail.versions, serving)


render()
