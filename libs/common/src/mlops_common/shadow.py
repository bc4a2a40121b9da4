"""Shadow evaluation records: a staged candidate's answers beside production's, on live requests.

When a model's ``staging`` version differs from ``production``, inference runs the candidate on
a share of live requests after production's answer has gone out, and writes one
:class:`ShadowRecord` per shadowed request to the stream ``shadow:<model>``
(:func:`shadow_stream`, trimmed to about :data:`SHADOW_STREAM_MAXLEN` entries). The record holds
both models' label and confidence for each row, and each model's run time.

A record joins feedback through the prediction ids: the gateway sends a request's inference id
(the OIP ``ModelInferRequest.id``) and derives the ids of its instances from it with
:func:`prediction_ids`, so the ids of a shadowed request's rows follow from its record alone
(:meth:`ShadowRecord.prediction_ids`), and the ``feedback`` hash scores both models.

Only the standard library: inference writes records, drift and the gateway read them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

SHADOW_STREAM_PREFIX: Final = "shadow:"
#: Approximate bound on a shadow stream (XADD ... MAXLEN ~ N).
SHADOW_STREAM_MAXLEN: Final = 100_000
#: Separates an inference id from a row number in the prediction ids of a multi-row request.
ROW_SEPARATOR: Final = "."


def shadow_stream(model: str) -> str:
    """The shadow stream of the served model ``model``: ``shadow:<model>``."""
    return SHADOW_STREAM_PREFIX + model


def prediction_ids(base: str, n: int) -> list[str]:
    """The prediction ids of a request of ``n`` instances whose inference id is ``base``: the
    id itself for one instance, ``<base>.<row>`` for each row of a larger request."""
    if n == 1:
        return [base]
    return [f"{base}{ROW_SEPARATOR}{row}" for row in range(n)]


class ShadowDecodeError(ValueError):
    """A stream entry does not hold a well-formed shadow record."""


def _field(fields: Mapping[bytes | str, bytes | str], name: str) -> str:
    value = fields.get(name, fields.get(name.encode()))
    if value is None:
        raise ShadowDecodeError(f"shadow entry lacks field {name!r}")
    return value.decode() if isinstance(value, bytes) else value


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",")) if text else ()


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",")) if text else ()


@dataclass(frozen=True, slots=True)
class ShadowRecord:
    """One shadowed request: each row's label (class index) and confidence from both models.

    ``production_ms``/``candidate_ms``: each model's run time (``session.run``) of the batch that
    held the request, in milliseconds, measured the same way for both.
    """

    request_id: str
    production_version: str
    candidate_version: str
    production_labels: Sequence[int]
    production_confidences: Sequence[float]
    candidate_labels: Sequence[int]
    candidate_confidences: Sequence[float]
    production_ms: float
    candidate_ms: float
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        n = len(self.production_labels)
        sizes = {
            n,
            len(self.production_confidences),
            len(self.candidate_labels),
            len(self.candidate_confidences),
        }
        if n == 0 or len(sizes) != 1:
            raise ValueError("a shadow record holds the same number (>= 1) of rows for each list")

    @property
    def rows(self) -> int:
        """The number of instances in the request."""
        return len(self.production_labels)

    def prediction_ids(self) -> list[str]:
        """The prediction ids of the request's rows (feedback names these)."""
        return prediction_ids(self.request_id, self.rows)

    def encode(self) -> dict[str, str]:
        """Fields for ``XADD``: lists as comma-separated text."""
        return {
            "id": self.request_id,
            "ts": repr(self.timestamp),
            "production_version": self.production_version,
            "candidate_version": self.candidate_version,
            "production_labels": ",".join(str(int(v)) for v in self.production_labels),
            "production_confidences": ",".join(f"{v:.6g}" for v in self.production_confidences),
            "candidate_labels": ",".join(str(int(v)) for v in self.candidate_labels),
            "candidate_confidences": ",".join(f"{v:.6g}" for v in self.candidate_confidences),
            "production_ms": f"{self.production_ms:.4g}",
            "candidate_ms": f"{self.candidate_ms:.4g}",
        }

    @classmethod
    def decode(cls, fields: Mapping[bytes | str, bytes | str]) -> ShadowRecord:
        """Rebuild a record from ``XRANGE`` fields (bytes or str keys)."""
        try:
            return cls(
                request_id=_field(fields, "id"),
                timestamp=float(_field(fields, "ts")),
                production_version=_field(fields, "production_version"),
                candidate_version=_field(fields, "candidate_version"),
                production_labels=_ints(_field(fields, "production_labels")),
                production_confidences=_floats(_field(fields, "production_confidences")),
                candidate_labels=_ints(_field(fields, "candidate_labels")),
                candidate_confidences=_floats(_field(fields, "candidate_confidences")),
                production_ms=float(_field(fields, "production_ms")),
                candidate_ms=float(_field(fields, "candidate_ms")),
            )
        except ValueError as exc:
            if isinstance(exc, ShadowDecodeError):
                raise
            raise ShadowDecodeError(f"malformed shadow entry: {exc}") from exc
