"""Encoding of what travels through Redis."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_common.redis_keys import (
    ModelEvent,
    TrafficDecodeError,
    TrafficEntry,
    traffic_stream,
)


def make_entry() -> TrafficEntry:
    return TrafficEntry(
        id="p-1",
        request_id="r-1",
        model_version="3",
        features=np.linspace(0, 16, 64, dtype=np.float32),
        label=7,
        confidence=0.93,
        latency_ms=1.25,
        timestamp=1_700_000_000.5,
    )


def test_traffic_entry_round_trips_with_str_and_bytes_keys() -> None:
    entry = make_entry()
    fields = entry.encode()
    assert isinstance(fields["features"], bytes)
    assert len(fields["features"]) == 256
    as_bytes = {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}
    for encoded in (fields, as_bytes):
        decoded = TrafficEntry.decode(encoded)
        assert decoded.id == "p-1"
        assert decoded.request_id == "r-1"
        assert decoded.model_version == "3"
        assert decoded.label == 7
        assert decoded.confidence == pytest.approx(0.93)
        assert decoded.latency_ms == pytest.approx(1.25)
        assert decoded.timestamp == pytest.approx(1_700_000_000.5)
        np.testing.assert_array_equal(decoded.features, entry.features)


@pytest.mark.parametrize("features", [np.zeros((2, 4), np.float32), np.zeros(0, np.float32)])
def test_a_non_vector_input_is_refused_on_encode(features: np.ndarray) -> None:
    entry = TrafficEntry("a", "b", "1", features, 1, 0.5, 1.0)
    with pytest.raises(ValueError, match="shape"):
        entry.encode()


def test_any_width_round_trips_and_a_reader_may_demand_one() -> None:
    entry = TrafficEntry("a", "b", "1", np.arange(4, dtype=np.float32), 2, 0.5, 1.0)
    fields = entry.encode()
    np.testing.assert_array_equal(TrafficEntry.decode(fields, width=4).features, np.arange(4))
    with pytest.raises(TrafficDecodeError, match="holds 4 input values; expected 64"):
        TrafficEntry.decode(fields, width=64)


def test_streams_are_per_model() -> None:
    assert traffic_stream("iris") == "traffic:iris"
    assert traffic_stream("digits-classifier") != traffic_stream("iris")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("features", b"\x00" * 10, "float32 'features'"),
        ("label", "seven", "malformed"),
        ("confidence", "high", "malformed"),
    ],
)
def test_malformed_entries_raise_decode_error(field: str, value: object, message: str) -> None:
    fields = dict(make_entry().encode())
    fields[field] = value  # type: ignore[assignment]
    with pytest.raises(TrafficDecodeError, match=message):
        TrafficEntry.decode(fields)


def test_missing_field_is_named() -> None:
    fields = dict(make_entry().encode())
    del fields["request_id"]
    with pytest.raises(TrafficDecodeError, match="request_id"):
        TrafficEntry.decode(fields)


def test_model_event_round_trip() -> None:
    event = ModelEvent(name="digits-classifier", version="4", timestamp=12.0)
    assert ModelEvent.decode(event.encode()) == event
    assert ModelEvent.decode(event.encode().encode()) == event


@pytest.mark.parametrize("message", ["not json", '{"name": "x"}', "[1, 2]"])
def test_malformed_model_event(message: str) -> None:
    with pytest.raises(ValueError, match="malformed model event"):
        ModelEvent.decode(message)


@pytest.mark.parametrize("logged", [np.arange(3, dtype=np.float32), np.zeros(0, np.float32)])
def test_a_text_entry_keeps_its_text_and_its_logged_values(logged: np.ndarray) -> None:
    text = "Chelsea sack Mutu \u00a315.8m \r\n\x1f ünïcode"
    entry = TrafficEntry("a", "b", "1", logged, 2, 0.5, 1.0, text=text)
    fields = entry.encode()
    as_bytes = {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}
    decoded = TrafficEntry.decode(as_bytes, width=len(logged))
    assert decoded.text == text
    np.testing.assert_array_equal(decoded.features, logged)
    assert TrafficEntry.decode(make_entry().encode()).text is None


def test_a_text_field_that_is_not_utf8_is_a_decode_error() -> None:
    fields = TrafficEntry("a", "b", "1", np.zeros(2, np.float32), 1, 0.5, 1.0, text="x").encode()
    fields["text"] = b"\xa3 not utf-8"
    with pytest.raises(TrafficDecodeError, match="malformed traffic entry"):
        TrafficEntry.decode(fields)
