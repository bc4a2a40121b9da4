"""The shared preprocessing on real encoded images, and on bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mlops_common.errors import EmptyInputError, ImageTooLargeError, InvalidImageError
from mlops_common.features import FEATURE_MAX, N_FEATURES, image_to_features

#: One quantisation step of an 8-bit image on the 0..16 scale.
STEP = FEATURE_MAX / 255.0


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def grid() -> np.ndarray:
    """A digit-like 8×8 grid on the 0..16 scale (a '7'), ink on a dark background."""
    values = np.zeros((8, 8), dtype=np.float32)
    values[1, 1:7] = 16
    values[2:7, 5] = 12
    values[4, 3:7] = 8
    return values


def grid_image(grid: np.ndarray, scale: int = 1) -> Image.Image:
    pixels = np.round(grid * 255 / FEATURE_MAX).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L")
    return image.resize((8 * scale, 8 * scale), Image.Resampling.NEAREST) if scale > 1 else image


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "GIF", "TIFF", "WEBP"])
def test_lossless_formats_round_trip(grid: np.ndarray, fmt: str) -> None:
    options = {"lossless": True} if fmt == "WEBP" else {}
    features = image_to_features(encode(grid_image(grid), fmt, **options))
    assert features.shape == (N_FEATURES,)
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, grid.reshape(-1), atol=STEP)


def test_jpeg_is_close(grid: np.ndarray) -> None:
    features = image_to_features(encode(grid_image(grid, scale=32), "JPEG", quality=95))
    np.testing.assert_allclose(features, grid.reshape(-1), atol=1.0)


def test_large_image_is_averaged_down(grid: np.ndarray) -> None:
    features = image_to_features(encode(grid_image(grid, scale=100), "PNG"))
    np.testing.assert_allclose(features, grid.reshape(-1), atol=STEP)


def test_colour_image_becomes_grey(grid: np.ndarray) -> None:
    rgb = grid_image(grid, scale=4).convert("RGB")
    features = image_to_features(encode(rgb, "PNG"))
    np.testing.assert_allclose(features, grid.reshape(-1), atol=STEP)


def test_dark_ink_on_white_paper_is_inverted(grid: np.ndarray) -> None:
    inverted = Image.fromarray(255 - np.asarray(grid_image(grid, scale=4)))
    features = image_to_features(encode(inverted, "PNG"))
    np.testing.assert_allclose(features, grid.reshape(-1), atol=STEP)


def test_drawing_on_transparent_canvas_uses_opacity(grid: np.ndarray) -> None:
    alpha = grid_image(grid, scale=4)
    black_strokes = Image.merge("RGBA", [Image.new("L", alpha.size, 0)] * 3 + [alpha])
    features = image_to_features(encode(black_strokes, "PNG"))
    np.testing.assert_allclose(features, grid.reshape(-1), atol=STEP)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, id="corrupt-png"),
        pytest.param(b"just some text, not an image\n" * 10, id="text"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", id="pdf"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 100, id="corrupt-jpeg"),
    ],
)
def test_undecodable_bytes_raise_invalid_image(data: bytes) -> None:
    with pytest.raises(InvalidImageError, match="could not decode"):
        image_to_features(data)


def test_truncated_png_raises_invalid_image(grid: np.ndarray) -> None:
    data = encode(grid_image(grid, scale=50), "PNG")
    with pytest.raises(InvalidImageError):
        image_to_features(data[: len(data) // 2])


def test_empty_bytes_raise_empty_input() -> None:
    with pytest.raises(EmptyInputError, match="0 bytes"):
        image_to_features(b"")


def test_too_many_bytes_raise_too_large(grid: np.ndarray) -> None:
    data = encode(grid_image(grid), "PNG")
    with pytest.raises(ImageTooLargeError, match="bytes"):
        image_to_features(data, max_bytes=len(data) - 1)


def test_huge_image_is_refused_before_decoding() -> None:
    huge = encode(Image.new("1", (20_000, 20_000)), "PNG")
    assert len(huge) < 2_000_000  # small file, enormous image: a decompression bomb
    with pytest.raises(ImageTooLargeError, match="pixels"):
        image_to_features(huge)


def test_pixel_limit_is_configurable(grid: np.ndarray) -> None:
    data = encode(grid_image(grid, scale=10), "PNG")
    with pytest.raises(ImageTooLargeError, match="80×80"):
        image_to_features(data, max_pixels=79 * 79)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 96),
    height=st.integers(1, 96),
    mode=st.sampled_from(["L", "RGB", "RGBA", "LA", "P", "1", "I;16"]),
    fmt=st.sampled_from(["PNG", "BMP", "TIFF", "GIF"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_valid_image_maps_to_64_values_in_range(
    width: int, height: int, mode: str, fmt: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    rgba = rng.integers(0, 256, size=(height, width, 4), dtype=np.uint8)
    image = Image.fromarray(rgba, mode="RGBA")
    if mode == "I;16" and fmt != "PNG" and fmt != "TIFF":
        mode = "L"
    image = image.convert("L").convert(mode) if mode == "I;16" else image.convert(mode)
    if fmt == "BMP" and mode in ("LA", "RGBA"):
        fmt = "PNG"
    features = image_to_features(encode(image, fmt))
    assert features.shape == (N_FEATURES,)
    assert np.isfinite(features).all()
    assert features.min() >= 0.0
    assert features.max() <= FEATURE_MAX
