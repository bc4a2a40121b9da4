"""Typed errors for bad input, shared by every service.

Each error carries a stable ``code`` (used in the gateway's ``{"error": {"code", "message"}}``
shape) and a message that tells the caller what to fix. Services map these to their transport's
status in one place (HTTP 400/413/415/422, gRPC INVALID_ARGUMENT).
"""

from __future__ import annotations


class InputError(ValueError):
    """Base of every error caused by a caller's input."""

    code = "invalid_input"


class EmptyInputError(InputError):
    """The input has no content (zero bytes, no instances)."""

    code = "empty_input"


class InvalidImageError(InputError):
    """The bytes are not a decodable image (corrupt, truncated or another file type)."""

    code = "invalid_image"


class ImageTooLargeError(InputError):
    """The image exceeds the byte or pixel limit."""

    code = "image_too_large"


class InvalidFeaturesError(InputError):
    """A feature vector has the wrong length, a non-finite value or a value out of range."""

    code = "invalid_features"
