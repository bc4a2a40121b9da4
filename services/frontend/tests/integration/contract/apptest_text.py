"""What a Streamlit ``AppTest`` page shows, as text (the contract and real-platform tests)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


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
