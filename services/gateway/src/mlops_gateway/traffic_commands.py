"""Traffic records as they wait in memory, and the Redis commands one flush sends.

A flush is one write of ready-made RESP (the Redis protocol): one ``XADD traffic MAXLEN ~ n *``
per predicted instance, then one ``HSET`` of the prediction-id index
(:mod:`mlops_common.prediction_index`), its ``EXPIREAT``, and an ``XLEN traffic``. Each ``XADD``
is filled in from a byte template with one ``%`` (C speed); building the same commands argument
by argument with a Redis client costs several times more CPU per entry, and a Lua script costs
Redis several times more than native commands. The stream entries hold exactly what
:meth:`TrafficEntry.encode <mlops_common.redis_keys.TrafficEntry.encode>` gives.

``quiet`` wraps the ``XADD`` in ``CLIENT REPLY OFF`` / ``ON`` (Redis's mode for bulk writes):
the client then reads four replies per flush, not one per entry (reading a reply costs the
client more than encoding its command). The commands after ``ON`` fail for the reasons an
``XADD`` would (``HSET``: out of memory, read-only replica, disk errors; ``XLEN``: ``traffic``
is not a stream), so a refused batch is still seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from mlops_common.features import N_FEATURES
from mlops_common.prediction_index import bucket_of, expires_at, index_key
from mlops_common.redis_keys import TrafficEntry

_FEATURE_BYTES: Final = N_FEATURES * 4


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(_bulk(arg) for arg in args)


_REPLY_OFF: Final = _command(b"CLIENT", b"REPLY", b"OFF")
_REPLY_ON: Final = _command(b"CLIENT", b"REPLY", b"ON")


@dataclass(frozen=True, slots=True)
class TrafficRecord:
    """One prediction request as it waits in memory: ``n`` instances, not yet encoded."""

    request_id: str
    model_version: str
    ids: Sequence[str]
    features: NDArray[np.float32]
    labels: Sequence[int]
    confidences: Sequence[float]
    latency_ms: float
    timestamp: float

    def entries(self) -> list[TrafficEntry]:
        """The stream entries of this request, one per instance."""
        return [
            TrafficEntry(
                id=self.ids[i],
                request_id=self.request_id,
                model_version=self.model_version,
                features=self.features[i],
                label=int(self.labels[i]),
                confidence=float(self.confidences[i]),
                latency_ms=self.latency_ms,
                timestamp=self.timestamp,
            )
            for i in range(len(self.ids))
        ]

    def head(self, n: int) -> TrafficRecord:
        """The record of its first ``n`` instances only."""
        return TrafficRecord(
            self.request_id,
            self.model_version,
            self.ids[:n],
            self.features[:n],
            self.labels[:n],
            self.confidences[:n],
            self.latency_ms,
            self.timestamp,
        )

    def names(self, identifier: str) -> bool:
        """True when ``identifier`` is one of its prediction ids (or its one-instance request)."""
        if len(self.ids) == 1 and identifier == self.request_id:
            return True
        return identifier in self.ids


class FlushCommands:
    """Encodes a batch of records into the RESP of one flush."""

    def __init__(self, stream: str, maxlen: int, ttl_s: int) -> None:
        self.ttl_s = ttl_s
        head = (b"XADD", stream.encode(), b"MAXLEN", b"~", str(maxlen).encode(), b"*")
        # TrafficEntry.encode's fields, in its order; %-placeholders for the values.
        fields = (b"id", b"request_id", b"ts", b"model_version", b"features", b"label",
                  b"confidence", b"latency_ms")  # fmt: skip
        template = b"*%d\r\n" % (len(head) + 2 * len(fields)) + b"".join(map(_bulk, head))
        for name in fields:
            template += _bulk(name) + b"$%d\r\n%s\r\n"
        self._xadd = template
        self._xlen = _command(b"XLEN", stream.encode())

    def encode(
        self, records: Iterable[TrafficRecord], now: float, *, quiet: bool
    ) -> tuple[bytes, int]:
        """The RESP of one flush logged at ``now``, and how many ``XADD`` it holds.

        Redis answers, in order: ``CLIENT REPLY ON``'s OK (``quiet``) or one reply per
        ``XADD``; then ``HSET``, ``EXPIREAT`` and ``XLEN``.
        """
        xadd = self._xadd
        parts: list[bytes] = [_REPLY_OFF] if quiet else []
        index: list[bytes] = []
        for record in records:
            features = np.ascontiguousarray(record.features, dtype="<f4").tobytes()
            request_id = record.request_id.encode()
            ts = repr(record.timestamp).encode()
            version = record.model_version.encode()
            latency = repr(float(record.latency_ms)).encode()
            labels = np.asarray(record.labels).tolist()
            confidences = np.asarray(record.confidences, dtype=np.float64).tolist()
            for i, identifier in enumerate(record.ids):
                ident = identifier.encode()
                label = b"%d" % labels[i]
                confidence = repr(confidences[i]).encode()
                parts.append(
                    xadd % (
                        len(ident), ident, len(request_id), request_id, len(ts), ts,
                        len(version), version, _FEATURE_BYTES,
                        features[i * _FEATURE_BYTES : (i + 1) * _FEATURE_BYTES],
                        len(label), label, len(confidence), confidence, len(latency), latency,
                    )
                )  # fmt: skip
                index += (ident, b"")
            if len(record.ids) == 1 and record.request_id != record.ids[0]:
                index += (request_id, record.ids[0].encode())
        count = len(parts) - quiet
        if not count:
            return b"", 0
        if quiet:
            parts.append(_REPLY_ON)
        bucket = bucket_of(now)
        key = index_key(bucket).encode()
        parts.append(_command(b"HSET", key, *index))
        parts.append(_command(b"EXPIREAT", key, b"%d" % expires_at(bucket, self.ttl_s)))
        parts.append(self._xlen)
        return b"".join(parts), count
