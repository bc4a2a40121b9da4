"""What a Streamlit ``AppTest`` page shows, as text (the contract and real-platform tests), and
the app opened on a page with a model picked."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from mlops_frontend.launch import APP_PATH


def open_app(model: str | None = None, page: str = "predict") -> AppTest:
    """The app, with ``model`` picked in the sidebar and ``page`` open."""
    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()
    assert not app.exception, app.exception
    if model is not None:
        app.selectbox(key="model_picker").set_value(model).run()
        assert not app.exception, app.exception
    if page != "predict":
        app.switch_page(f"views/{page}.py").run()
        assert not app.exception, app.exception
    return app


def texts(app: AppTest) -> str:
    """Every piece of text the page shows, joined (titles, markdown, alerts, metrics, captions)."""
    parts: list[str] = []
    for kind in (
        "title",
        "subheader",
        "markdown",
        "caption",
        "success",
        "info",
        "warning",
        "error",
    ):
        parts += [str(element.value) for element in getattr(app, kind)]
    parts += [f"{m.label}: {m.value}" for m in app.metric]
    return "\n".join(parts)


def metric(app: AppTest, label: str) -> str:
    """The value of the metric called ``label``."""
    for element in app.metric:
        if element.label == label:
            return str(element.value)
    raise AssertionError(f"no metric {label!r} in {[m.label for m in app.metric]}")
