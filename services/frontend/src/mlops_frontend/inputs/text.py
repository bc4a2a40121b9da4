"""Text input: a text area whose content goes to the model as is (``{"texts": [...]}``);
tokenization lives inside the registered version."""

from __future__ import annotations

import hashlib

import streamlit as st

from mlops_frontend import results, ui
from mlops_frontend.api import ServedModel

MAX_CHARS = 10_000


def text(model: ServedModel) -> None:
    """Type or paste a text, predict its class, send the true class."""
    entered = st.text_area(
        "Text",
        height=180,
        max_chars=MAX_CHARS,
        placeholder="Paste a news article, a message, …",
        key=f"predict_text_{model.name}",
    ).strip()
    if not entered:
        st.info("Enter a text to start.")
        results.forget()
        return
    digest = hashlib.sha256(entered.encode()).hexdigest()
    answer = results.predict_button(
        model, digest, lambda: ui.client().predict_texts(model.name, [entered])
    )
    if answer is not None:
        classes = results.classes_of(model, answer)
        results.show(answer, classes)
        results.feedback(answer, classes)
