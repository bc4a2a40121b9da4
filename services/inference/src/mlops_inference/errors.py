"""Domain errors of the inference service, each carrying the gRPC status it maps to.

The data plane and the batcher raise these; the servicer maps them to a status in one place
(:func:`mlops_inference.servicer.abort_with`). Messages tell the caller what to fix.
"""

from __future__ import annotations

import grpc


class InferenceError(Exception):
    """Base of the service's errors."""

    status: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidInputError(InferenceError):
    """The request is malformed: wrong tensor name, shape, datatype, byte length, batch size."""

    status = grpc.StatusCode.INVALID_ARGUMENT


class ModelNotFoundError(InferenceError):
    """The request names a model or a version this server does not serve."""

    status = grpc.StatusCode.NOT_FOUND


class ModelNotReadyError(InferenceError):
    """No model is loaded yet (or it is being loaded for the first time)."""

    status = grpc.StatusCode.UNAVAILABLE


class QueueFullError(InferenceError):
    """The batching queue is full: the caller should back off and retry."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED


class ShuttingDownError(InferenceError):
    """The server is stopping and takes no new work."""

    status = grpc.StatusCode.UNAVAILABLE


class ModelLoadError(Exception):
    """A model could not be fetched, loaded or warmed up (never sent to a caller)."""
