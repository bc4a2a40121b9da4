"""The one preprocessing shared by training, the gateway and drift.

The model sees what scikit-learn's digits dataset holds: an 8×8 grey grid, row-major, 64 values
on a 0..16 scale where larger means more ink. :func:`image_to_features` turns any image a user
sends (PNG, JPEG, GIF, BMP, WebP, TIFF…, any size, colour or grey, dark ink on light paper or
light on dark, transparent or not) into that grid; :func:`validate_features` checks vectors that
arrive already as numbers. Both raise the typed errors of :mod:`mlops_common.errors` with a
message that says what to fix, and never anything else for bad input.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from mlops_common.errors import (
    EmptyInputError,
    ImageTooLargeError,
    InvalidImageError,
)
from mlops_common.vectors import validate_vectors

IMAGE_SIDE: Final = 8
N_FEATURES: Final = IMAGE_SIDE * IMAGE_SIDE
FEATURE_MIN: Final = 0.0
FEATURE_MAX: Final = 16.0
#: Column names of the 64 features, as scikit-learn names the digits' pixels (row, column).
FEATURE_NAMES: Final = tuple(f"pixel_{r}_{c}" for r in range(IMAGE_SIDE) for c in range(IMAGE_SIDE))

#: Default limits: a phone photo passes, a decompression bomb does not.
DEFAULT_MAX_IMAGE_BYTES: Final = 10 * 1024 * 1024
DEFAULT_MAX_IMAGE_PIXELS: Final = 40_000_000

FloatArray = NDArray[np.float32]


def _open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Open ``data`` lazily (header only) and enforce the pixel limit before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"image has too many pixels (limit {max_pixels:,})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError(
            "could not decode the image: send a PNG, JPEG, GIF, BMP, WebP or TIFF file"
        ) from exc
    width, height = image.size
    if width == 0 or height == 0:
        raise EmptyInputError(f"image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"image is {width}×{height} = {width * height:,} pixels; the limit is {max_pixels:,}"
        )
    return image


def _ink_layer(image: Image.Image) -> Image.Image:
    """Return a grey ('L') image where larger values mean more ink, as in the digits dataset."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = image.convert("RGBA").getchannel("A")
        low = alpha.getextrema()[0]
        if (
            isinstance(low, int | float) and low < 255
        ):  # a drawing on a transparent background: opacity is the ink
            return alpha
    grey = image.convert("L")
    # Paper is the colour of the border: dark ink on light paper gets inverted.
    array = np.asarray(grey)
    border = np.concatenate([array[0, :], array[-1, :], array[:, 0], array[:, -1]])
    if float(border.mean()) > 127.5:
        return Image.fromarray(255 - array)
    return grey


def image_to_features(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> FloatArray:
    """Turn encoded image bytes into the 64 features the model expects (float32, 0..16).

    Raises:
        EmptyInputError: no bytes, or an image with a zero side.
        ImageTooLargeError: more than ``max_bytes`` bytes or ``max_pixels`` pixels.
        InvalidImageError: corrupt, truncated or not an image.
    """
    if not data:
        raise EmptyInputError("image is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"image is {len(data):,} bytes; the limit is {max_bytes:,}")
    image = _open_image(data, max_pixels)
    try:
        # JPEG can decode at a reduced scale directly; a no-op for other formats.
        image.draft("L", (IMAGE_SIDE * 4, IMAGE_SIDE * 4))
        image.load()
        ink = _ink_layer(image)
        small = ink.resize((IMAGE_SIDE, IMAGE_SIDE), Image.Resampling.BOX)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidImageError(f"could not decode the image: {exc}") from exc
    grid = np.asarray(small, dtype=np.float32).reshape(N_FEATURES)
    return grid * np.float32(FEATURE_MAX / 255.0)


def validate_features(
    instances: Sequence[Sequence[float]] | NDArray[np.generic],
    *,
    max_instances: int | None = None,
) -> FloatArray:
    """Check raw digits feature vectors; return them as a float32 array of shape ``(n, 64)``.

    Raises:
        EmptyInputError: no instances.
        InvalidFeaturesError: wrong length, not numbers, NaN/inf, outside 0..16, or more than
            ``max_instances`` instances.
    """
    return validate_vectors(
        instances,
        width=N_FEATURES,
        value_range=(FEATURE_MIN, FEATURE_MAX),
        max_instances=max_instances,
        hint="an 8×8 grid",
    )
