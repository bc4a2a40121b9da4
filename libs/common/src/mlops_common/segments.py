"""Segments of a merged ``ModelInferRequest``: whose rows it carries.

The gateway merges concurrent predictions of one model into one ``ModelInfer`` call
(:mod:`mlops_gateway.coalesce`). Each merged request still has its own inference id, from which
the ids of its predictions derive (:func:`mlops_common.shadow.prediction_ids`), so the call
names them in two request parameters: ``segment_ids`` (the inference ids, comma-separated, in
row order) and ``segment_rows`` (how many rows each holds). Inference counts and shadows each
segment as the request it was (:mod:`mlops_inference.endpoint`); a call without them is one
segment, its own id and all its rows.

Only the standard library: both services import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

SEGMENT_IDS: Final = "segment_ids"
SEGMENT_ROWS: Final = "segment_rows"
SEPARATOR: Final = ","

#: ``(inference id, rows)`` of each merged request, in row order.
Segments = tuple[tuple[str, int], ...]


class SegmentsError(ValueError):
    """The segment parameters do not describe the request's rows."""


def encode_segments(segments: Sequence[tuple[str, int]]) -> dict[str, str]:
    """The two parameter values naming ``segments`` (ids must not hold a comma)."""
    ids = [segment_id for segment_id, _ in segments]
    if any(SEPARATOR in segment_id or not segment_id for segment_id in ids):
        raise SegmentsError("a segment id is empty or holds a comma")
    return {
        SEGMENT_IDS: SEPARATOR.join(ids),
        SEGMENT_ROWS: SEPARATOR.join(str(rows) for _, rows in segments),
    }


def decode_segments(values: Mapping[str, str], total_rows: int) -> Segments:
    """The segments ``values`` name (empty when they name none); they must cover
    ``total_rows`` rows exactly, each with at least one row."""
    ids_text, rows_text = values.get(SEGMENT_IDS), values.get(SEGMENT_ROWS)
    if ids_text is None and rows_text is None:
        return ()
    if not ids_text or not rows_text:
        raise SegmentsError(f"send both {SEGMENT_IDS!r} and {SEGMENT_ROWS!r}, or neither")
    ids = ids_text.split(SEPARATOR)
    try:
        rows = [int(text) for text in rows_text.split(SEPARATOR)]
    except ValueError:
        raise SegmentsError(f"{SEGMENT_ROWS!r} must be comma-separated integers") from None
    if len(ids) != len(rows):
        raise SegmentsError(f"{len(ids)} segment ids for {len(rows)} segment row counts")
    if any(not segment_id for segment_id in ids) or any(n < 1 for n in rows):
        raise SegmentsError("every segment needs an id and at least one row")
    if sum(rows) != total_rows:
        raise SegmentsError(f"the segments hold {sum(rows)} rows; the request has {total_rows}")
    return tuple(zip(ids, rows, strict=True))
