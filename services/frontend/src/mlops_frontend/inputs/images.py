"""Image inputs: the digits task's drawing canvas and upload with its 8×8 preview, and a plain
upload for any other image model. Both send ``{"images": [base64]}``."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from mlops_common.errors import InputError
from mlops_common.features import FEATURE_MAX, IMAGE_SIDE, image_to_features
from mlops_frontend import results, ui
from mlops_frontend.api import ServedModel

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
CANVAS_SIDE = 280
PREVIEW_SIDE = 168
#: The preprocessing whose models read an 8×8 grid of ink made from a drawing or a photo.
DIGITS_PREPROCESSING = "digits-8x8"


def is_digits(model: ServedModel) -> bool:
    """True for a model fed by the digits task's 8×8 preprocessing (any version of it)."""
    return model.spec is not None and model.spec.preprocessing.startswith(DIGITS_PREPROCESSING)


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


def _drawn_or_uploaded() -> bytes | None:
    """The image to predict, from the canvas or the uploader (an upload wins)."""
    draw, upload = st.tabs([":material/draw: Draw", ":material/upload: Upload"])
    with draw:
        st.caption("Draw one digit, large and centred.")
        drawn = _canvas_png()
    with upload:
        uploaded = st.file_uploader(
            "An image of one digit", type=UPLOAD_TYPES, key="predict_upload"
        )
    return uploaded.getvalue() if uploaded is not None else drawn


def _preview(features: np.ndarray) -> None:
    """The 8×8 grid the model sees, enlarged, dark ink on light paper."""
    grid = features.reshape(IMAGE_SIDE, IMAGE_SIDE)
    grey = (255 - grid / FEATURE_MAX * 255).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(grey).resize((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.NEAREST)
    st.image(image, caption="What the model sees: 8×8, ink on a 0–16 scale")
    with st.expander("The 64 numbers"):
        st.dataframe(pd.DataFrame(grid.round(1)), hide_index=False)


def digits(model: ServedModel) -> None:
    """Draw or upload a digit, preview the 8×8 grid, predict it, send the true digit."""
    left, right = st.columns([3, 2], gap="large")
    with left:
        data = _drawn_or_uploaded()
    if data is None:
        right.info("Draw a digit or upload an image to start.")
        results.forget()
        return
    with right:
        try:
            features = image_to_features(data)
        except InputError as exc:
            st.error(f"**This image cannot be used**: {exc}", icon=":material/broken_image:")
            return
        _preview(features)
    _predict(model, data, noun="digit")


def image(model: ServedModel) -> None:
    """Upload an image for an image model that is not the digits task's."""
    uploaded = st.file_uploader("An image", type=UPLOAD_TYPES, key="predict_upload")
    if uploaded is None:
        st.info("Upload an image to start.")
        results.forget()
        return
    st.image(uploaded.getvalue(), width=PREVIEW_SIDE)
    _predict(model, uploaded.getvalue(), noun="class")


def _predict(model: ServedModel, data: bytes, noun: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    answer = results.predict_button(
        model, digest, lambda: ui.client().predict_images(model.name, [data])
    )
    if answer is not None:
        classes = results.classes_of(model, answer)
        results.show(answer, classes, noun)
        results.feedback(answer, classes, noun)
