"""The Streamlit entry script: page config, navigation, the model picker and a footer naming
the gateway.

Run it with ``python -m mlops_frontend`` (or ``streamlit run`` on this file); settings come from
the ``FRONTEND_*`` environment. Each page is a script under :mod:`mlops_frontend.views`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mlops_frontend import picker, ui

VIEWS = Path(__file__).parent / "views"

#: (script, title, icon, url path) of each page, in menu order.
PAGES = (
    ("predict.py", "Predict", ":material/online_prediction:", "predict"),
    ("model.py", "Model", ":material/model_training:", "model"),
    ("drift.py", "Drift", ":material/monitoring:", "drift"),
    ("retraining.py", "Retraining", ":material/autorenew:", "retraining"),
    ("rollout.py", "Rollout", ":material/alt_route:", "rollout"),
)


def main() -> None:
    """Configure the page and run the chosen one."""
    st.set_page_config(page_title=ui.APP_TITLE, page_icon=":material/pin:", layout="wide")
    try:
        config = ui.settings()
    except ui.SettingsError as exc:
        st.error(f"**The frontend is misconfigured**: {exc}")
        st.stop()
    pages = [
        st.Page(VIEWS / script, title=title, icon=icon, url_path=path, default=index == 0)
        for index, (script, title, icon, path) in enumerate(PAGES)
    ]
    page = st.navigation(pages)
    with st.sidebar:
        st.markdown(f"### :material/pin: {ui.APP_TITLE}")
        st.caption("Every served model: predicted, watched and retrained.")
        picker.sidebar(ui.client(config))
        st.caption(f"Gateway: `{config.gateway_url}`")
    page.run()


main()
