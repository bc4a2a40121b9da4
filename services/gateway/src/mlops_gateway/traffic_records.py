"""A request's traffic as it waits in memory (:class:`TrafficRecord`), and a batch of records
encoded column by column for :data:`~mlops_gateway.traffic_scripts.APPEND_COLUMNS`.

:func:`encode_columns` writes, for every field of
:meth:`TrafficEntry.encode <mlops_common.redis_keys.TrafficEntry.encode>`, the batch's values of
that field as one string, each value exactly as ``encode`` writes it: the text fields joined by
:data:`~mlops_gateway.traffic_scripts.SEPARATOR`, the float32 features of equal width back to
back, texts (and any field whose values hold the separator) length-prefixed. Python's work per
entry is then a few list appends; the per-entry encoding of ``TrafficEntry`` (an object, a dict,
a packed value each) was most of what traffic logging cost the gateway.
``tests/integration/test_traffic_stream.py`` pins that the stream holds exactly what ``encode``
gives, field by field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlops_common.prediction_index import index_value
from mlops_common.redis_keys import TrafficEntry
from mlops_gateway.traffic_scripts import FIXED, PACKED, joined, pack_strings

#: The fields of an entry, in :meth:`TrafficEntry.encode`'s order (``text`` last, when logged).
FIELDS = ("id", "request_id", "ts", "model_version", "features", "label", "confidence",
          "latency_ms")  # fmt: skip
_FEATURES = np.dtype("<f4")


@dataclass(frozen=True, slots=True)
class TrafficRecord:
    """One prediction request as it waits in memory: ``n`` instances, not yet encoded."""

    model: str
    request_id: str
    model_version: str
    ids: Sequence[str]
    features: NDArray[np.float32]
    labels: Sequence[int]
    confidences: Sequence[float]
    latency_ms: float
    timestamp: float
    #: A text model's texts, one per instance (already cut to the stored length); None when
    #: the model takes numbers or texts are not stored.
    texts: Sequence[str] | None = None

    def entries(self) -> list[TrafficEntry]:
        """The stream entries of this request, one per instance."""
        labels = np.asarray(self.labels).tolist()
        confidences = np.asarray(self.confidences, dtype=np.float64).tolist()
        return [
            TrafficEntry(
                id=self.ids[i],
                request_id=self.request_id,
                model_version=self.model_version,
                features=self.features[i],
                label=labels[i],
                confidence=confidences[i],
                latency_ms=self.latency_ms,
                timestamp=self.timestamp,
                text=self.texts[i] if self.texts is not None else None,
            )
            for i in range(len(self.ids))
        ]

    def head(self, n: int) -> TrafficRecord:
        """The record of its first ``n`` instances only."""
        return TrafficRecord(
            self.model,
            self.request_id,
            self.model_version,
            self.ids[:n],
            self.features[:n],
            self.labels[:n],
            self.confidences[:n],
            self.latency_ms,
            self.timestamp,
            self.texts[:n] if self.texts is not None else None,
        )

    def names(self, identifier: str) -> bool:
        """True when ``identifier`` is one of its prediction ids (or its one-instance request)."""
        if len(self.ids) == 1 and identifier == self.request_id:
            return True
        return identifier in self.ids

    def index_fields(self) -> dict[str, str]:
        """Its fields of the prediction-id index: each id names its model and itself; a
        one-instance request's own id, when it differs, names its prediction."""
        fields = dict.fromkeys(self.ids, index_value(self.model))
        if len(self.ids) == 1 and self.request_id != self.ids[0]:
            fields[self.request_id] = index_value(self.model, self.ids[0])
        return fields


def layout(record: TrafficRecord) -> tuple[str, bool, int]:
    """What records must share to be encoded together: model, whether texts are logged, and
    the number of logged values per instance."""
    return record.model, record.texts is not None, record.features.shape[1]


def encode_columns(records: Sequence[TrafficRecord]) -> tuple[int, list[bytes | str]]:
    """The entries of ``records`` (one :func:`layout`) as ``(n, [name, kind, values]…)``: the
    number of entries and, per field, its name, how its values are joined, and the values."""
    ids: list[str] = []
    request_ids: list[str] = []
    stamps: list[float] = []
    versions: list[str] = []
    latencies: list[float] = []
    texts: list[str] = []
    for record in records:  # plain list work per record; numpy once for the batch below
        n = len(record.ids)
        ids += record.ids
        request_ids += [record.request_id] * n
        stamps += [record.timestamp] * n
        versions += [record.model_version] * n
        latencies += [record.latency_ms] * n
        if record.texts is not None:
            texts += record.texts
    labels = np.concatenate([np.asarray(r.labels) for r in records]).tolist()
    confidences = np.concatenate([np.asarray(r.confidences) for r in records])
    text_fields = {
        "id": ids,
        "request_id": request_ids,
        "ts": list(map(repr, stamps)),
        "model_version": versions,
        "label": list(map(str, labels)),
        "confidence": list(map(repr, confidences.astype(np.float64).tolist())),
        "latency_ms": list(map(repr, map(float, latencies))),
    }
    features = np.ascontiguousarray(np.concatenate([r.features for r in records]), _FEATURES)
    columns: list[bytes | str] = []
    for name in FIELDS:
        if name == "features":
            width = features.shape[1] * _FEATURES.itemsize
            columns += [name, f"{FIXED}{width}", features.tobytes()]
        else:
            columns += [name, *joined(text_fields[name])]
    if records[0].texts is not None:
        columns += ["text", PACKED, pack_strings(texts)]
    return len(ids), columns
