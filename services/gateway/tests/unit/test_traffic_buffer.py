"""The traffic buffer stays bounded and counts what it drops (no Redis is touched)."""

from __future__ import annotations

import numpy as np
from redis.asyncio import Redis

from mlops_gateway.traffic import TrafficLogger, TrafficRecord


def _entries(n: int, request_id: str = "r") -> TrafficRecord:
    return TrafficRecord(
        model="digits-classifier",
        request_id=request_id,
        model_version="1",
        ids=[f"{request_id}-{i}" for i in range(n)],
        features=np.arange(n * 64, dtype=np.float32).reshape(n, 64) % 17,
        labels=np.arange(n) % 10,
        confidences=np.full(n, 0.5, np.float32),
        latency_ms=1.0,
        timestamp=123.0,
    )


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


def test_a_record_becomes_one_stream_entry_per_instance() -> None:
    record = _entries(3, "req")
    entries = record.entries()
    assert [e.id for e in entries] == ["req-0", "req-1", "req-2"]
    assert all(e.request_id == "req" and e.timestamp == 123.0 for e in entries)
    assert entries[2].features.tolist() == (np.arange(128, 192) % 17).tolist()
    assert [e.label for e in entries] == [0, 1, 2]
    head = record.head(2)
    assert list(head.ids) == ["req-0", "req-1"]
    assert head.features.shape == (2, 64)
