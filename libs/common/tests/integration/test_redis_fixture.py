"""The Redis fixtures start real servers: a stream round-trips; a stopped server is gone."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from mlops_common.redis_keys import TrafficEntry, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.servers import RedisServer

STREAM = traffic_stream(MODEL_NAME)


def test_stream_write_and_read(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    stream = f"{STREAM}:fixture-test"
    entry = TrafficEntry("p", "r", "1", np.full(64, 3.0, np.float32), 3, 0.9, 1.0)
    entry_id = client.xadd(stream, entry.encode(), maxlen=10, approximate=True)
    [(read_id, fields)] = client.xrange(stream)
    assert read_id == entry_id
    decoded = TrafficEntry.decode(fields)
    assert decoded.label == 3
    np.testing.assert_array_equal(decoded.features, entry.features)
    client.delete(stream)


def test_private_server_stops_and_starts_on_the_same_port(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, socket_connect_timeout=0.5)
    client.set("k", "v")
    assert client.get("k") == b"v"
    redis_server.stop()
    assert not redis_server.running
    with pytest.raises(redis.ConnectionError):
        client.ping()
    redis_server.start()
    assert client.ping()
    assert client.get("k") is None  # nothing persisted
