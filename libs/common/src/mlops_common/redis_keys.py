"""Redis names and the encodings of what travels through Redis, in one place.

- ``traffic:<model>`` — one stream per served model (:func:`traffic_stream`) with one entry per
  predicted instance (:class:`TrafficEntry`), written by the gateway with an approximate
  ``MAXLEN``, read by that model's drift monitor through a consumer group.
- ``feedback`` — a hash: prediction id → true label (written by ``POST /v1/feedback``).
- ``predictions:<hour>`` — the ids feedback may name, in hourly hashes that expire
  (:mod:`mlops_common.prediction_index`); each id's value is the name of the model that answered.
- ``model-events`` — a pub/sub channel announcing promotions (:class:`ModelEvent`).

An instance's input travels as its values flattened to little-endian float32 (a digits instance:
64 values, 256 bytes): compact, exact and fast. The model's spec names what they are. A text
model's entry logs the values of its monitored outputs there instead (its spec's
``logged_position``), and the text itself in ``text`` unless the gateway was told not to keep it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from mlops_common.features import FloatArray

TRAFFIC_STREAM_PREFIX: Final = "traffic:"
FEEDBACK_HASH: Final = "feedback"
MODEL_EVENTS_CHANNEL: Final = "model-events"
DRIFT_CONSUMER_GROUP: Final = "drift"
#: Approximate bound on the traffic stream (XADD ... MAXLEN ~ N).
TRAFFIC_STREAM_MAXLEN: Final = 100_000

_FEATURE_DTYPE: Final = np.dtype("<f4")


def traffic_stream(model: str) -> str:
    """The traffic stream of the served model ``model``: ``traffic:<model>``."""
    return TRAFFIC_STREAM_PREFIX + model


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
    #: A text instance's text (None: a numeric input, or text storage turned off).
    text: str | None = None

    def encode(self) -> dict[str, bytes | str]:
        """Fields for ``XADD``: scalars as text, the logged values as raw float32 bytes."""
        features = np.ascontiguousarray(self.features, dtype=_FEATURE_DTYPE)
        if features.ndim != 1 or not (features.size or self.text is not None):
            raise ValueError(f"features must be a non-empty vector, got shape {features.shape}")
        fields: dict[str, bytes | str] = {
            "id": self.id,
            "request_id": self.request_id,
            "ts": repr(self.timestamp),
            "model_version": self.model_version,
            "features": features.tobytes(),
            "label": str(self.label),
            "confidence": repr(float(self.confidence)),
            "latency_ms": repr(float(self.latency_ms)),
        }
        if self.text is not None:
            fields["text"] = self.text
        return fields

    @classmethod
    def decode(
        cls, fields: Mapping[bytes | str, bytes | str], width: int | None = None
    ) -> TrafficEntry:
        """Rebuild an entry from ``XREAD``/``XRANGE`` fields (bytes or str keys).

        ``width``: the number of input values the reader expects (refused otherwise).
        """
        raw = fields.get("features", fields.get(b"features"))
        size = _FEATURE_DTYPE.itemsize
        text = fields.get("text", fields.get(b"text"))
        if not isinstance(raw, bytes) or not (raw or text is not None) or len(raw) % size:
            raise TrafficDecodeError("traffic entry has no float32 'features' field")
        if width is not None and len(raw) != width * size:
            raise TrafficDecodeError(
                f"traffic entry holds {len(raw) // size} input values; expected {width}"
            )
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
                text=None if text is None else _text(fields, "text"),
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
