"""Labelled traffic written to Redis the way the gateway and feedback route leave it.

For tests and benchmarks that need feedback-labelled rows without running a gateway: one
``traffic:<model>`` stream entry per row (its features and the model's answer), its id in the
prediction-id index (:mod:`mlops_common.prediction_index`), and its true label in the
``feedback`` hash.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import numpy as np
import redis
from numpy.typing import ArrayLike

from mlops_common.prediction_index import (
    bucket_of,
    expires_at,
    index_key,
    index_value,
    live_keys,
    parse_index_value,
)
from mlops_common.redis_keys import FEEDBACK_HASH, TrafficEntry, traffic_stream
from mlops_common.registry import MODEL_NAME


def write_labelled_traffic(
    db: redis.Redis,
    features: ArrayLike,
    labels: ArrayLike,
    probabilities: ArrayLike,
    *,
    model: str = MODEL_NAME,
    model_version: str = "1",
    latency_ms: float = 1.0,
    ttl_s: int = 3600,
    texts: Sequence[str] | None = None,
) -> None:
    """Log each row as predicted (``probabilities``) and label it with ``labels`` (one pipeline).

    A text model's rows: ``features`` are each row's logged values (its spec's
    ``output:<tensor>:<i>`` columns) and ``texts`` the texts.
    """
    rows = np.asarray(features, dtype=np.float32)
    texts = list(texts) if texts is not None else [None] * len(rows)  # type: ignore[list-item]
    bucket = bucket_of(time.time())
    with db.pipeline(transaction=False) as pipe:
        for row, label, proba, text in zip(
            rows, np.asarray(labels), np.asarray(probabilities), texts, strict=True
        ):
            entry = TrafficEntry(
                id=uuid.uuid4().hex,
                request_id=uuid.uuid4().hex,
                model_version=model_version,
                features=row,
                label=int(proba.argmax()),
                confidence=float(proba.max()),
                latency_ms=latency_ms,
                text=text,
            )
            pipe.xadd(traffic_stream(model), entry.encode())  # type: ignore[arg-type]
            pipe.hset(index_key(bucket), entry.id, index_value(model))
            pipe.hset(FEEDBACK_HASH, entry.id, str(int(label)))
        pipe.expireat(index_key(bucket), expires_at(bucket, ttl_s))
        pipe.execute()


def indexed_prediction(db: redis.Redis, identifier: str, ttl_s: int) -> tuple[str, int] | None:
    """The prediction id the index maps ``identifier`` to, and its hash's TTL; None if absent."""
    for key in live_keys(time.time(), ttl_s):
        named = db.hget(key, identifier)
        if named is not None:
            text = named.decode() if isinstance(named, bytes) else str(named)
            return parse_index_value(identifier, text)[1], int(db.ttl(key))
    return None
