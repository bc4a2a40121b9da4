"""The per-client token bucket."""

from __future__ import annotations

import pytest

from mlops_gateway.limits import MAX_TRACKED_CLIENTS, TokenBucketLimiter


def test_allows_the_burst_then_refuses_with_the_wait() -> None:
    limiter = TokenBucketLimiter(rate_per_s=2.0, burst=3)
    assert [limiter.acquire("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a", now=0.0) == pytest.approx(0.5)


def test_refills_at_the_rate() -> None:
    limiter = TokenBucketLimiter(rate_per_s=2.0, burst=1)
    assert limiter.acquire("a", now=0.0) == 0.0
    assert limiter.acquire("a", now=0.1) > 0.0
    assert limiter.acquire("a", now=0.7) == 0.0


def test_clients_have_their_own_buckets() -> None:
    limiter = TokenBucketLimiter(rate_per_s=1.0, burst=1)
    assert limiter.acquire("a", now=0.0) == 0.0
    assert limiter.acquire("a", now=0.0) > 0.0
    assert limiter.acquire("b", now=0.0) == 0.0


def test_memory_stays_bounded() -> None:
    limiter = TokenBucketLimiter(rate_per_s=1.0, burst=1)
    for client in range(MAX_TRACKED_CLIENTS + 50):
        limiter.acquire(str(client), now=0.0)
    assert len(limiter._buckets) == MAX_TRACKED_CLIENTS
