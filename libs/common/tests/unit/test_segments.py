"""The segment parameters of a merged ModelInfer call: round trip and every malformed form."""

from __future__ import annotations

import pytest

from mlops_common.segments import (
    SEGMENT_IDS,
    SEGMENT_ROWS,
    SegmentsError,
    decode_segments,
    encode_segments,
)


def test_segments_round_trip_in_row_order() -> None:
    segments = (("a1", 1), ("b2", 3), ("c3", 2))
    values = encode_segments(segments)
    assert values == {SEGMENT_IDS: "a1,b2,c3", SEGMENT_ROWS: "1,3,2"}
    assert decode_segments(values, 6) == segments


def test_a_call_without_segments_names_none() -> None:
    assert decode_segments({}, 4) == ()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({SEGMENT_IDS: "a,b"}, "send both"),
        ({SEGMENT_ROWS: "1"}, "send both"),
        ({SEGMENT_IDS: "a,b", SEGMENT_ROWS: "1"}, "2 segment ids for 1"),
        ({SEGMENT_IDS: "a", SEGMENT_ROWS: "x"}, "integers"),
        ({SEGMENT_IDS: "a,,b", SEGMENT_ROWS: "1,1,1"}, "needs an id"),
        ({SEGMENT_IDS: "a,b", SEGMENT_ROWS: "3,0"}, "at least one row"),
        ({SEGMENT_IDS: "a,b", SEGMENT_ROWS: "1,1"}, "hold 2 rows; the request has 3"),
    ],
)
def test_malformed_segments_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(SegmentsError, match=message):
        decode_segments(values, 3)


def test_an_id_holding_the_separator_cannot_be_sent() -> None:
    with pytest.raises(SegmentsError):
        encode_segments([("a,b", 1)])
