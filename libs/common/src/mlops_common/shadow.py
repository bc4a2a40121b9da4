"""Shadow evaluation records: a staged candidate's answers beside production's, on live requests.

When a model's ``staging`` version differs from ``production``, inference runs the candidate on
a share of live requests after production's answer has gone out. Each shadowed request is one
:class:`ShadowRecord` (both models' label and confidence for each row, and each model's run
time); the records of one candidate batch go to the stream ``shadow:<model>`` as *one* entry
(:func:`encode_batch`/:func:`decode_batch`: one ``XADD`` per batch, not per request, since
the write was most of the shadow's cost per request), trimmed to about
:data:`SHADOW_STREAM_MAXLEN` entries (:func:`shadow_stream`). An entry's fields:

- ``ts``, ``production_version``, ``candidate_version``, ``candidate_ms``: one value each,
  shared by the batch's requests;
- ``ids``, ``rows``, ``production_ms``: one comma-separated value per request (its inference
  id, its number of rows, the run time of production's batch that held it);
- ``production_labels``, ``production_confidences``, ``candidate_labels``,
  ``candidate_confidences``: one comma-separated value per row, the requests' rows in order.

Readers want a number of *records* and the stream counts entries: :func:`next_page` sizes the
next ``XREVRANGE`` from what the entries read so far held.

A record joins feedback through the prediction ids: the gateway sends a request's inference id
(the OIP ``ModelInferRequest.id``) and derives the ids of its instances from it with
:func:`prediction_ids`, so the ids of a shadowed request's rows follow from its record alone
(:meth:`ShadowRecord.prediction_ids`), and the ``feedback`` hash scores both models.

Only the standard library: inference writes records, drift and the gateway read them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

SHADOW_STREAM_PREFIX: Final = "shadow:"
#: Approximate bound on a shadow stream (XADD ... MAXLEN ~ N).
SHADOW_STREAM_MAXLEN: Final = 100_000
#: Separates the values of a list field of a stream entry (so no request id may hold it).
LIST_SEPARATOR: Final = ","
#: Separates an inference id from a row number in the prediction ids of a multi-row request.
ROW_SEPARATOR: Final = "."


def shadow_stream(model: str) -> str:
    """The shadow stream of the served model ``model``: ``shadow:<model>``."""
    return SHADOW_STREAM_PREFIX + model


def prediction_ids(base: str, n: int) -> list[str]:
    """The prediction ids of a request of ``n`` instances whose inference id is ``base``: the
    id itself for one instance, ``<base>.<row>`` for each row of a larger request."""
    if n == 1:
        return [base]
    return [f"{base}{ROW_SEPARATOR}{row}" for row in range(n)]


class ShadowDecodeError(ValueError):
    """A stream entry does not hold a well-formed batch of shadow records."""


def _field(fields: Mapping[Any, bytes | str], name: str) -> str:
    value = fields.get(name, fields.get(name.encode()))
    if value is None:
        raise ShadowDecodeError(f"shadow entry lacks field {name!r}")
    return value.decode() if isinstance(value, bytes) else value


def _ints(text: str, name: str) -> list[int]:
    try:
        return [int(v) for v in text.split(LIST_SEPARATOR)]
    except ValueError:
        raise ShadowDecodeError(
            f"shadow entry field {name!r} is not integers: {text[:40]!r}"
        ) from None


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(v) for v in text.split(LIST_SEPARATOR)]
    except ValueError:
        raise ShadowDecodeError(
            f"shadow entry field {name!r} is not numbers: {text[:40]!r}"
        ) from None


def _float(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ShadowDecodeError(
            f"shadow entry field {name!r} is not a number: {text[:40]!r}"
        ) from None


@dataclass(frozen=True, slots=True)
class ShadowRecord:
    """One shadowed request: each row's label (class index) and confidence from both models.

    ``production_ms``/``candidate_ms``: each model's run time (``session.run``) of the batch that
    held the request, in milliseconds, measured the same way for both.
    """

    request_id: str
    production_version: str
    candidate_version: str
    production_labels: Sequence[int]
    production_confidences: Sequence[float]
    candidate_labels: Sequence[int]
    candidate_confidences: Sequence[float]
    production_ms: float
    candidate_ms: float
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        n = len(self.production_labels)
        sizes = {
            n,
            len(self.production_confidences),
            len(self.candidate_labels),
            len(self.candidate_confidences),
        }
        if n == 0 or len(sizes) != 1:
            raise ValueError("a shadow record holds the same number (>= 1) of rows for each list")

    @property
    def rows(self) -> int:
        """The number of instances in the request."""
        return len(self.production_labels)

    def prediction_ids(self) -> list[str]:
        """The prediction ids of the request's rows (feedback names these)."""
        return prediction_ids(self.request_id, self.rows)


def encode_batch(records: Sequence[ShadowRecord]) -> dict[str, str]:
    """The fields of one stream entry holding ``records``: one candidate batch, so they share
    both versions and ``candidate_ms``; the entry's ``ts`` is the newest record's timestamp.

    Raises ``ValueError`` for no records, records that disagree on the shared values, or a
    request id holding :data:`LIST_SEPARATOR`.
    """
    if not records:
        raise ValueError("a shadow entry holds at least one record")
    first = records[0]
    shared = (first.production_version, first.candidate_version, first.candidate_ms)
    for record in records:
        if (record.production_version, record.candidate_version, record.candidate_ms) != shared:
            raise ValueError(
                "the records of a shadow entry share production_version, candidate_version "
                "and candidate_ms (one candidate batch)"
            )
    sep = LIST_SEPARATOR
    ids = sep.join(record.request_id for record in records)
    if ids.count(sep) != len(records) - 1:
        raise ValueError(f"a shadowed request id may not hold {sep!r}")
    return {
        "ts": repr(max(record.timestamp for record in records)),
        "production_version": first.production_version,
        "candidate_version": first.candidate_version,
        "candidate_ms": f"{first.candidate_ms:.4g}",
        "ids": ids,
        "rows": sep.join(str(record.rows) for record in records),
        "production_ms": sep.join(f"{record.production_ms:.4g}" for record in records),
        "production_labels": sep.join(
            str(int(v)) for record in records for v in record.production_labels
        ),
        "production_confidences": sep.join(
            f"{v:.6g}" for record in records for v in record.production_confidences
        ),
        "candidate_labels": sep.join(
            str(int(v)) for record in records for v in record.candidate_labels
        ),
        "candidate_confidences": sep.join(
            f"{v:.6g}" for record in records for v in record.candidate_confidences
        ),
    }


def decode_batch(fields: Mapping[Any, bytes | str]) -> list[ShadowRecord]:
    """The records of one stream entry (``XRANGE`` fields, bytes or str keys), in order.

    Raises :class:`ShadowDecodeError` naming what is wrong: a missing field, a value that is
    not a number, or lists whose lengths disagree with ``ids`` and ``rows``.
    """
    timestamp = _float(_field(fields, "ts"), "ts")
    production_version = _field(fields, "production_version")
    candidate_version = _field(fields, "candidate_version")
    candidate_ms = _float(_field(fields, "candidate_ms"), "candidate_ms")
    ids = _field(fields, "ids").split(LIST_SEPARATOR)
    rows = _ints(_field(fields, "rows"), "rows")
    production_ms = _floats(_field(fields, "production_ms"), "production_ms")
    if len(rows) != len(ids) or len(production_ms) != len(ids):
        raise ShadowDecodeError(
            f"shadow entry holds {len(ids)} ids but {len(rows)} row counts and "
            f"{len(production_ms)} production_ms values"
        )
    if any(n < 1 for n in rows):
        raise ShadowDecodeError("shadow entry has a request of fewer than 1 row")
    total = sum(rows)
    p_labels = _ints(_field(fields, "production_labels"), "production_labels")
    p_conf = _floats(_field(fields, "production_confidences"), "production_confidences")
    c_labels = _ints(_field(fields, "candidate_labels"), "candidate_labels")
    c_conf = _floats(_field(fields, "candidate_confidences"), "candidate_confidences")
    for name, values in (
        ("production_labels", p_labels),
        ("production_confidences", p_conf),
        ("candidate_labels", c_labels),
        ("candidate_confidences", c_conf),
    ):
        if len(values) != total:
            raise ShadowDecodeError(
                f"shadow entry field {name!r} holds {len(values)} values for {total} rows"
            )
    records, end = [], 0
    for request_id, n, ms in zip(ids, rows, production_ms, strict=True):
        start, end = end, end + n
        records.append(
            ShadowRecord(
                request_id,
                production_version,
                candidate_version,
                p_labels[start:end],
                p_conf[start:end],
                c_labels[start:end],
                c_conf[start:end],
                ms,
                candidate_ms,
                timestamp,
            )
        )
    return records


def next_page(wanted: int, entries: int, records: int) -> int:
    """How many entries to read next for ``wanted`` more records, when ``entries`` entries
    read so far held ``records`` records (none read yet: a sixteenth of ``wanted``, so a
    stream of full batches is not read many times over; at least 1)."""
    if wanted <= 0:
        return 0
    if entries == 0 or records == 0:
        return max(1, math.ceil(wanted / 16))
    return max(1, math.ceil(wanted * entries / records))
