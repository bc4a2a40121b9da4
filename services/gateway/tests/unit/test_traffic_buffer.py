"""The traffic buffer stays bounded and counts what it drops (no Redis is touched)."""

from __future__ import annotations

import numpy as np
from redis.asyncio import Redis

from mlops_common.redis_keys import TrafficEntry
from mlops_gateway.traffic import TrafficLogger


def _entries(n: int, request_id: str = "r") -> list[TrafficEntry]:
    return [
        TrafficEntry(
            id=f"{request_id}-{i}",
            request_id=request_id,
            model_version="1",
            features=np.zeros(64, np.float32),
            label=0,
            confidence=1.0,
            latency_ms=1.0,
        )
        for i in range(n)
    ]


def test_entries_beyond_capacity_are_dropped_and_counted() -> None:
    dropped: list[int] = []
    logger = TrafficLogger(Redis(), capacity=5, on_dropped=dropped.append)
    logger.offer(_entries(3, "a"))
    logger.offer(_entries(4, "b"))
    assert logger.depth == 5
    assert logger.dropped == 2
    assert dropped == [2]
    logger.offer(_entries(1, "c"))
    assert logger.depth == 5
    assert logger.dropped == 3


def test_pending_knows_ids_and_one_instance_request_ids() -> None:
    logger = TrafficLogger(Redis(), capacity=10)
    logger.offer(_entries(1, "single"))
    logger.offer(_entries(2, "multi"))
    assert logger.pending("single-0")
    assert logger.pending("single")
    assert logger.pending("multi-1")
    assert not logger.pending("multi")
    assert not logger.pending("unknown")
