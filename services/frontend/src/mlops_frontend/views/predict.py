"""Predict: draw or upload a digit, see what the model sees and what it answers, send the truth."""

from __future__ import annotations

import hashlib
import io

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from mlops_common.errors import InputError
from mlops_common.features import FEATURE_MAX, IMAGE_SIDE, image_to_features
from mlops_frontend import ui
from mlops_frontend.api import Prediction

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
CANVAS_SIDE = 280
PREVIEW_SIDE = 168
RESULT_KEY = "predict_result"


def _canvas_png() -> bytes | None:
    """PNG bytes of the drawing, or None while the canvas is empty."""
    from streamlit_drawable_canvas import st_canvas  # registers its component on first use

    result = st_canvas(
        stroke_width=22,
        stroke_color="#000000",
        background_color="#FFFFFF",
        height=CANVAS_SIDE,
        width=CANVAS_SIDE,
        drawing_mode="freedraw",
        return_image_data=True,
        key="predict_canvas",
    )
    pixels = None if result is None else result.image_data
    if pixels is None or not np.asarray(pixels)[..., 3].any():
        return None
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode="RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    buffer = io.BytesIO()
    Image.alpha_composite(white, image).convert("L").save(buffer, format="PNG")
    return buffer.getvalue()


def _input() -> tuple[bytes, str] | None:
    """The image to predict and its file name, from the canvas or the uploader."""
    draw, upload = st.tabs([":material/draw: Draw", ":material/upload: Upload"])
    with draw:
        st.caption("Draw one digit, large and centred.")
        drawn = _canvas_png()
    with upload:
        uploaded = st.file_uploader(
            "An image of one digit", type=UPLOAD_TYPES, key="predict_upload"
        )
    if uploaded is not None:
        return uploaded.getvalue(), uploaded.name
    if drawn is not None:
        return drawn, "drawing.png"
    return None


def _preview(features: np.ndarray) -> None:
    """The 8×8 grid the model sees, enlarged, dark ink on light paper."""
    grid = features.reshape(IMAGE_SIDE, IMAGE_SIDE)
    grey = (255 - grid / FEATURE_MAX * 255).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(grey).resize((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.NEAREST)
    st.image(image, caption="What the model sees: 8×8, ink on a 0–16 scale")
    with st.expander("The 64 numbers"):
        st.dataframe(pd.DataFrame(grid.round(1)), hide_index=False)


def _probability_chart(prediction: Prediction) -> alt.Chart:
    frame = pd.DataFrame(
        {
            "digit": [str(d) for d in range(len(prediction.probabilities))],
            "probability": prediction.probabilities,
            "predicted": [d == prediction.label for d in range(len(prediction.probabilities))],
        }
    )
    chart: alt.Chart = (
        alt.Chart(frame, title="Probability of each digit")
        .mark_bar()
        .encode(
            x=alt.X("digit:N", sort=None, axis=alt.Axis(labelAngle=0), title="Digit"),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), title="Probability"),
            color=alt.condition(alt.datum.predicted, alt.value("#4F46E5"), alt.value("#CBD5E1")),
            tooltip=["digit", alt.Tooltip("probability:Q", format=".3f")],
        )
        .properties(height=260)
    )
    return chart


def _show_prediction(prediction: Prediction) -> None:
    label, confidence, model = st.columns(3)
    label.metric("Predicted digit", prediction.label)
    confidence.metric("Confidence", f"{prediction.confidence:.1%}")
    model.metric("Model version", ui.version_label(prediction.model_version))
    st.altair_chart(_probability_chart(prediction), use_container_width=True)
    st.caption(f"Prediction id `{prediction.id}` · model `{prediction.model_name}`")


def _feedback(prediction: Prediction) -> None:
    st.subheader("Was it right?")
    with st.form("feedback_form", border=False):
        truth = st.selectbox(
            "True digit", options=list(range(10)), index=prediction.label, key="feedback_label"
        )
        sent = st.form_submit_button("Send feedback")
    if sent and truth is not None:
        with ui.guarded():
            ui.client().send_feedback(prediction.id, int(truth))
            verdict = "confirmed" if truth == prediction.label else "corrected"
            st.success(
                f"Thanks — digit {truth} recorded ({verdict}) for prediction {prediction.id}."
            )


def render() -> None:
    """The Predict page."""
    st.title("Predict a digit")
    st.write("Draw a digit or upload a picture of one; the model serving now will read it.")
    left, right = st.columns([3, 2], gap="large")
    with left:
        chosen = _input()
    if chosen is None:
        right.info("Draw a digit or upload an image to start.")
        st.session_state.pop(RESULT_KEY, None)
        return
    data, name = chosen
    digest = hashlib.sha256(data).hexdigest()
    with right:
        try:
            features = image_to_features(data)
        except InputError as exc:
            st.error(f"**This image cannot be used**: {exc}", icon=":material/broken_image:")
            return
        _preview(features)
    stored = st.session_state.get(RESULT_KEY)
    prediction = stored[1] if stored and stored[0] == digest else None
    if st.button("Predict", type="primary", key="predict_button"):
        prediction = ui.fetch(lambda: ui.client().predict_image(data, name))
        st.session_state[RESULT_KEY] = (digest, prediction) if prediction else None
    if prediction is not None:
        _show_prediction(prediction)
        _feedback(prediction)


render()
