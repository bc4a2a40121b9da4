"""The model picker: which served model every page works on.

The entry script calls :func:`sidebar` on every run, before the page: it reads ``GET /v1/models``
once per run and draws a select box in the sidebar (first choice: the gateway's default model).
The pick lives in the session under its own key, so it survives page switches. A page then
calls :func:`current`, which answers the picked :class:`~mlops_frontend.api.ServedModel` or,
when the catalog could not be read, shows why (one error box) and stops the page.
"""

from __future__ import annotations

import streamlit as st

from mlops_frontend import ui
from mlops_frontend.api import MalformedAnswerError, ModelCatalog, ServedModel
from mlops_frontend.client import ClientError, PlatformClient

#: The last catalog read in this session (or the failure that replaced it).
CATALOG_KEY = "model_catalog"
#: The picked model's name, kept across pages (a widget's own key is dropped with the widget).
PICKED_KEY = "picked_model"
WIDGET_KEY = "model_picker"


def sidebar(client: PlatformClient) -> None:
    """Read the catalog and draw the picker (call it inside ``st.sidebar``)."""
    try:
        catalog = client.models()
    except (ClientError, MalformedAnswerError) as exc:
        st.session_state[CATALOG_KEY] = exc
        st.caption(":material/warning: The list of models is unavailable.")
        return
    st.session_state[CATALOG_KEY] = catalog
    names = [model.name for model in catalog.models]
    if not names:
        st.caption("No model is served.")
        return
    picked = st.session_state.get(WIDGET_KEY)
    if picked not in names:
        picked = st.session_state.get(PICKED_KEY)
    if picked not in names:
        picked = catalog.default if catalog.default in names else names[0]
    st.session_state[PICKED_KEY] = picked
    st.session_state[WIDGET_KEY] = picked
    st.selectbox(
        "Model",
        options=names,
        key=WIDGET_KEY,
        format_func=lambda name: _label(catalog, name),
        help="Every page works on this model.",
    )
    model = catalog.find(picked)
    if model is not None and model.version:
        st.caption(f"Serving {ui.version_label(model.version)}")
    if model is not None and not model.ready:
        st.warning(f"**Not ready**: {model.reason or 'no reason given'}", icon=":material/pending:")


def _label(catalog: ModelCatalog, name: str) -> str:
    model = catalog.find(name)
    parts = [name]
    if name == catalog.default:
        parts.append("(default)")
    if model is not None and not model.ready:
        parts.append("— not ready")
    return " ".join(parts)


def current() -> ServedModel:
    """The picked model; when there is none, say why on the page and stop it."""
    value = st.session_state.get(CATALOG_KEY)
    if isinstance(value, ClientError | MalformedAnswerError):
        st.error(ui.describe(value), icon=ui.ERROR_ICON)
        st.stop()
    model = (
        value.find(st.session_state.get(PICKED_KEY)) if isinstance(value, ModelCatalog) else None
    )
    if model is None:
        st.info("No model is served yet: start inference with at least one model.")
        st.stop()
    return model
