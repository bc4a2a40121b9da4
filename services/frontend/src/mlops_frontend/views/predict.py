"""Predict: an input form made from the picked model's spec, what the model answers, and the
true class sent back as feedback.

- the digits task (preprocessing ``digits-8x8@…``): draw or upload a digit;
- another ``image`` model: upload an image;
- a ``features`` model: a table, one row per instance;
- a ``text`` model: a text area and a Classify button (for the ``news`` task, the News page).
"""

from __future__ import annotations

import streamlit as st

from mlops_frontend import picker
from mlops_frontend.inputs import features, images, text


def render() -> None:
    """The Predict page."""
    model = picker.current()
    spec = model.spec
    digits = images.is_digits(model)
    texts = spec is not None and spec.input.kind == "text"
    st.title("Predict a digit" if digits else text.title(model) if texts else "Predict")
    if spec is None or not model.ready:
        why = model.reason or "the gateway gives no spec for it"
        st.warning(f"**`{model.name}` cannot predict now**: {why}", icon=":material/pending:")
        return
    if texts:
        st.write(text.intro(model))
    else:
        classes = ", ".join(spec.classes[:12]) + (" …" if len(spec.classes) > 12 else "")
        st.write(f"Model `{model.name}` ({spec.task}) tells apart: {classes}.")
    if digits:
        images.digits(model)
    elif spec.input.kind == "features":
        features.features(model)
    elif texts:
        text.text(model)
    else:
        images.image(model)


render()
