"""Feedback-labelled traffic as training rows: the ``feedback`` hash joined with what was predicted.

The gateway stores a true label per prediction id in :data:`~mlops_common.redis_keys.FEEDBACK_HASH`
and each predicted instance, features included, in the ``traffic`` stream (bounded by an
approximate ``MAXLEN``). The features are looked up in the stream, newest first (at most
``stream_scan`` entries). Each labelled row is assigned to train, val or test by a hash of its
id, so a row keeps its part from one job to the next: the held-out feedback a candidate is judged
on was never trained on by an earlier candidate.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import numpy as np
from redis import Redis

from mlops_common.errors import InputError
from mlops_common.features import N_FEATURES, validate_features
from mlops_common.redis_keys import (
    FEEDBACK_HASH,
    TrafficDecodeError,
    TrafficEntry,
    traffic_stream,
)
from mlops_common.registry import MODEL_NAME, N_CLASSES
from mlops_trainer.data import ExtraRows, Features, Labels

log = logging.getLogger(__name__)

_CHUNK = 500


@dataclass(frozen=True)
class LabelledRow:
    """One prediction with its true label."""

    id: str
    features: Features
    label: int
    timestamp: float


@dataclass(frozen=True)
class FeedbackStats:
    """How many labels were read, and why some were left out."""

    labels: int
    used: int
    no_features: int
    bad: int


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def read_labels(redis: Redis) -> tuple[dict[str, int], int]:
    """Every ``id → label`` in the feedback hash, and the count of unusable labels."""
    labels: dict[str, int] = {}
    bad = 0
    for key, value in redis.hscan_iter(FEEDBACK_HASH, count=_CHUNK):
        try:
            label = int(_text(value))
        except ValueError:
            bad += 1
            continue
        if 0 <= label < N_CLASSES:
            labels[_text(key)] = label
        else:
            bad += 1
    return labels, bad


def _from_stream(
    redis: Redis, stream: str, wanted: set[str], limit: int
) -> dict[str, TrafficEntry]:
    """Scan ``stream`` newest first (at most ``limit`` entries) for the ``wanted`` ids."""
    found: dict[str, TrafficEntry] = {}
    upper: bytes | str = "+"
    scanned = 0
    while wanted and scanned < limit:
        batch = cast(
            list[tuple[bytes, dict[bytes | str, bytes | str]]],
            redis.xrevrange(stream, max=upper, min="-", count=min(_CHUNK, limit)),
        )
        if not batch:
            break
        for _, fields in batch:
            scanned += 1
            raw_id = fields.get(b"id")
            if raw_id is None or _text(raw_id) not in wanted:
                continue
            try:
                entry = TrafficEntry.decode(fields)
            except TrafficDecodeError:
                continue
            found[entry.id] = entry
            wanted.discard(entry.id)
        upper = "(" + _text(batch[-1][0])  # exclusive: older than the last one seen
    return found


def load_feedback(
    redis: Redis, *, max_rows: int, stream_scan: int, model: str = MODEL_NAME
) -> tuple[list[LabelledRow], FeedbackStats]:
    """The newest ``max_rows`` labelled predictions of ``model`` whose features can be found."""
    labels, bad = read_labels(redis)
    entries = _from_stream(redis, traffic_stream(model), set(labels), stream_scan)
    rows: list[LabelledRow] = []
    for prediction_id, entry in entries.items():
        try:
            features = validate_features(entry.features.reshape(1, N_FEATURES))[0]
        except InputError:
            bad += 1
            continue
        rows.append(LabelledRow(prediction_id, features, labels[prediction_id], entry.timestamp))
    rows.sort(key=lambda row: (row.timestamp, row.id), reverse=True)
    used = rows[:max_rows]
    stats = FeedbackStats(
        labels=len(labels) + bad,
        used=len(used),
        no_features=len(labels) - len(entries),
        bad=bad,
    )
    log.info("feedback loaded", extra=vars(stats))
    return used, stats


def assign_part(prediction_id: str, test_fraction: float, val_fraction: float) -> str:
    """``test``, ``val`` or ``train`` for an id, the same every time (SHA-256 of the id)."""
    digest = hashlib.sha256(prediction_id.encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    if point < test_fraction:
        return "test"
    if point < test_fraction + val_fraction:
        return "val"
    return "train"


def split_rows(
    rows: Iterable[LabelledRow], *, test_fraction: float, val_fraction: float, repeat: int = 1
) -> ExtraRows:
    """Rows by part (see :func:`assign_part`); training rows repeated ``repeat`` times."""
    parts: dict[str, tuple[list[Features], list[int]]] = {
        name: ([], []) for name in ("train", "val", "test")
    }
    for row in rows:
        xs, ys = parts[assign_part(row.id, test_fraction, val_fraction)]
        xs.append(row.features)
        ys.append(row.label)

    def arrays(name: str, times: int = 1) -> tuple[Features, Labels]:
        xs, ys = parts[name]
        x = np.asarray(xs, dtype=np.float32).reshape(-1, N_FEATURES)
        y = np.asarray(ys, dtype=np.int64)
        return np.tile(x, (times, 1)), np.tile(y, times)

    return ExtraRows(train=arrays("train", repeat), val=arrays("val"), test=arrays("test"))
