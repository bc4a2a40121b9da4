"""Redis names and the encodings of what travels through Redis, in one place.

- ``traffic`` — a stream with one entry per predicted instance (:class:`TrafficEntry`), written by
  the gateway with an approximate ``MAXLEN``, read by the drift service through a consumer group.
- ``feedback`` — a hash: prediction id → true label (written by ``POST /v1/feedback``).
- ``predictions:<hour>`` — the ids feedback may name, in hourly hashes that expire
  (:mod:`mlops_common.prediction_index`).
- ``model-events`` — a pub/sub channel announcing promotions (:class:`ModelEvent`).

Features travel as 64 little-endian float32 values (256 bytes): compact, exact and fast.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from mlops_common.features import N_FEATURES, FloatArray

TRAFFIC_STREAM: Final = "traffic"
FEEDBACK_HASH: Final = "feedback"
MODEL_EVENTS_CHANNEL: Final = "model-events"
DRIFT_CONSUMER_GROUP: Final = "drift"
#: Approximate bound on the traffic stream (XADD ... MAXLEN ~ N).
TRAFFIC_STREAM_MAXLEN: Final = 100_000

_FEATURE_DTYPE: Final = np.dtype("<f4")


class TrafficDecodeError(ValueError):
    """A stream entry does not hold a well-formed traffic record."""


def _text(fields: Mapping[bytes | str, bytes | str], name: str) -> str:
    value = fields.get(name, fields.get(name.encode()))
    if value is None:
        raise TrafficDecodeError(f"traffic entry lacks field {name!r}")
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class TrafficEntry:
    """One predicted instance as logged on the traffic stream."""

    id: str
    request_id: str
    model_version: str
    features: FloatArray
    label: int
    confidence: float
    latency_ms: float
    timestamp: float = field(default_factory=time.time)

    def encode(self) -> dict[str, bytes | str]:
        """Fields for ``XADD``: scalars as text, features as 256 raw float32 bytes."""
        features = np.ascontiguousarray(self.features, dtype=_FEATURE_DTYPE)
        if features.shape != (N_FEATURES,):
            raise ValueError(f"features must have shape ({N_FEATURES},), got {features.shape}")
        return {
            "id": self.id,
            "request_id": self.request_id,
            "ts": repr(self.timestamp),
            "model_version": self.model_version,
            "features": features.tobytes(),
            "label": str(self.label),
            "confidence": repr(float(self.confidence)),
            "latency_ms": repr(float(self.latency_ms)),
        }

    @classmethod
    def decode(cls, fields: Mapping[bytes | str, bytes | str]) -> TrafficEntry:
        """Rebuild an entry from ``XREAD``/``XRANGE`` fields (bytes or str keys)."""
        raw = fields.get("features", fields.get(b"features"))
        if not isinstance(raw, bytes) or len(raw) != N_FEATURES * _FEATURE_DTYPE.itemsize:
            raise TrafficDecodeError("traffic entry has no 256-byte float32 'features' field")
        try:
            return cls(
                id=_text(fields, "id"),
                request_id=_text(fields, "request_id"),
                timestamp=float(_text(fields, "ts")),
                model_version=_text(fields, "model_version"),
                features=np.frombuffer(raw, dtype=_FEATURE_DTYPE).astype(np.float32),
                label=int(_text(fields, "label")),
                confidence=float(_text(fields, "confidence")),
                latency_ms=float(_text(fields, "latency_ms")),
            )
        except ValueError as exc:
            if isinstance(exc, TrafficDecodeError):
                raise
            raise TrafficDecodeError(f"malformed traffic entry: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ModelEvent:
    """A message on ``model-events``: a registered model's alias now points at a version."""

    name: str
    version: str
    alias: str = "production"
    event: str = "promoted"
    timestamp: float = field(default_factory=time.time)

    def encode(self) -> str:
        """JSON text for ``PUBLISH``."""
        return json.dumps(
            {
                "event": self.event,
                "name": self.name,
                "version": self.version,
                "alias": self.alias,
                "ts": self.timestamp,
            }
        )

    @classmethod
    def decode(cls, message: bytes | str) -> ModelEvent:
        """Parse a ``model-events`` message; raises ``ValueError`` when malformed."""
        try:
            data = json.loads(message)
            return cls(
                name=str(data["name"]),
                version=str(data["version"]),
                alias=str(data.get("alias", "production")),
                event=str(data.get("event", "promoted")),
                timestamp=float(data.get("ts", 0.0)),
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"malformed model event: {exc}") from exc
