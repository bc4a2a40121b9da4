"""Labelled traffic written to Redis the way the gateway and feedback route leave it.

For tests and benchmarks that need feedback-labelled rows without running a gateway: one
``traffic`` stream entry per row (its features and the model's answer), its
``prediction:<id>`` key, and its true label in the ``feedback`` hash.
"""

from __future__ import annotations

import uuid

import numpy as np
import redis
from numpy.typing import ArrayLike

from mlops_common.redis_keys import FEEDBACK_HASH, TRAFFIC_STREAM, TrafficEntry, prediction_key


def write_labelled_traffic(
    db: redis.Redis,
    features: ArrayLike,
    labels: ArrayLike,
    probabilities: ArrayLike,
    *,
    model_version: str = "1",
    latency_ms: float = 1.0,
    ttl_s: int = 3600,
) -> None:
    """Log each row as predicted (``probabilities``) and label it with ``labels`` (one pipeline)."""
    with db.pipeline(transaction=False) as pipe:
        for row, label, proba in zip(
            np.asarray(features, dtype=np.float32),
            np.asarray(labels),
            np.asarray(probabilities),
            strict=True,
        ):
            entry = TrafficEntry(
                id=uuid.uuid4().hex,
                request_id=uuid.uuid4().hex,
                model_version=model_version,
                features=row,
                label=int(proba.argmax()),
                confidence=float(proba.max()),
                latency_ms=latency_ms,
            )
            pipe.xadd(TRAFFIC_STREAM, entry.encode())  # type: ignore[arg-type]
            pipe.set(prediction_key(entry.id), entry.id, ex=ttl_s)
            pipe.hset(FEEDBACK_HASH, entry.id, str(int(label)))
        pipe.execute()
