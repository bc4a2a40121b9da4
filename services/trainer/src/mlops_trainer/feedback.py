"""Feedback-labelled traffic as training rows: the ``feedback`` hash joined with what was predicted.

The gateway stores a true label (a class index) per prediction id in
:data:`~mlops_common.redis_keys.FEEDBACK_HASH`, one hash for every model, and each predicted
instance, features included, in the answering model's stream ``traffic:<model>`` (bounded by an
approximate ``MAXLEN``). A model's rows are the labels whose id is in that model's stream, looked
up newest first (at most ``stream_scan`` entries); a label whose id is not there is not this
model's (another model's, or one whose traffic was trimmed away) and is not counted.

Each labelled row is assigned to train, val or test by a hash of its id, so a row keeps its part
from one job to the next: the held-out feedback a candidate is judged on was never trained on by
an earlier candidate.

A row's input is what the entry logged: a numeric model's values (checked against the spec's
width and range), or a text model's text, which the gateway stores unless ``GATEWAY_STORE_TEXT``
is false; labels of entries without their text are counted in ``FeedbackStats.no_text`` and
cannot be trained on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from redis import Redis

from mlops_common.digits_spec import digits_spec
from mlops_common.errors import InputError
from mlops_common.model_spec import ModelSpec
from mlops_common.redis_keys import (
    FEEDBACK_HASH,
    TrafficDecodeError,
    TrafficEntry,
    traffic_stream,
)
from mlops_common.registry import MODEL_NAME
from mlops_common.vectors import validate_vectors
from mlops_trainer.data import ExtraRows, Features, Labels

log = logging.getLogger(__name__)

_CHUNK = 500


@dataclass(frozen=True)
class LabelledRow:
    """One prediction with its true label."""

    id: str
    #: The instance's values (numeric models) or its text (text models).
    features: Features | str
    label: int
    timestamp: float


@dataclass(frozen=True)
class FeedbackStats:
    """What one model's feedback held, counted over the labels found in its traffic stream.

    - ``labels``: labels whose prediction id is in the model's stream (within ``stream_scan``);
    - ``used``: the rows returned (the newest good ones, at most ``max_rows``);
    - ``bad``: those labels that cannot be used: not a class index of the model, or an entry whose
      features are malformed or outside the input's range.

    ``labels - bad - used`` is the good rows older than the newest ``max_rows``.
    """

    labels: int
    used: int
    bad: int
    #: Labels of a text model whose entry holds no text (the gateway's ``GATEWAY_STORE_TEXT``
    #: was false): not usable, counted in ``bad`` too.
    no_text: int = 0

    def note(self) -> str | None:
        """Why labels went unused, in words (None when nothing needs saying)."""
        if not self.no_text:
            return None
        return (
            f"{self.no_text} feedback label(s) name predictions whose text was not stored "
            "(the gateway runs with GATEWAY_STORE_TEXT=false): feedback retraining needs the "
            "texts, so these labels were not trained on"
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def read_labels(redis: Redis) -> dict[str, str]:
    """Every ``id → label`` of the feedback hash, as stored (every model's)."""
    return {
        _text(key): _text(value) for key, value in redis.hscan_iter(FEEDBACK_HASH, count=_CHUNK)
    }


def _class_index(raw: str, n_classes: int) -> int | None:
    """The label as a class index of a model with ``n_classes`` classes, None when it is not."""
    try:
        label = int(raw)
    except ValueError:
        return None
    return label if 0 <= label < n_classes else None


def _from_stream(
    redis: Redis, stream: str, wanted: set[str], limit: int, width: int | None
) -> dict[str, TrafficEntry | None]:
    """Scan ``stream`` newest first (at most ``limit`` entries) for the ``wanted`` ids; an id
    whose entry does not decode (with ``width`` logged values) maps to None."""
    found: dict[str, TrafficEntry | None] = {}
    upper: bytes | str = "+"
    scanned = 0
    while wanted and scanned < limit:
        batch = cast(
            list[tuple[bytes, dict[bytes | str, bytes | str]]],
            redis.xrevrange(stream, max=upper, min="-", count=min(_CHUNK, limit)),
        )
        if not batch:
            break
        for _, fields in batch:
            scanned += 1
            raw_id = fields.get(b"id")
            if raw_id is None or _text(raw_id) not in wanted:
                continue
            prediction_id = _text(raw_id)
            try:
                found[prediction_id] = TrafficEntry.decode(fields, width=width)
            except TrafficDecodeError:
                found[prediction_id] = None  # this model's, but unusable
            wanted.discard(prediction_id)
        upper = "(" + _text(batch[-1][0])  # exclusive: older than the last one seen
    return found


def load_feedback(
    redis: Redis,
    *,
    max_rows: int,
    stream_scan: int,
    model: str = MODEL_NAME,
    spec: ModelSpec | None = None,
) -> tuple[list[LabelledRow], FeedbackStats]:
    """The newest ``max_rows`` labelled predictions of ``model`` (labels of its traffic stream
    only; see :class:`FeedbackStats` for what is counted), read with its ``spec`` (default: the
    digits spec)."""
    spec = spec or digits_spec(model)
    text = spec.input.kind == "text"
    labels = read_labels(redis)
    entries = _from_stream(
        redis, traffic_stream(model), set(labels), stream_scan, spec.logged_width
    )
    rows: list[LabelledRow] = []
    no_text = 0
    for prediction_id, entry in entries.items():
        label = _class_index(labels[prediction_id], len(spec.classes))
        if entry is None or label is None:
            continue
        if text:
            if entry.text is None:
                no_text += 1
                continue
            rows.append(LabelledRow(prediction_id, entry.text, label, entry.timestamp))
            continue
        try:
            values = _checked_values(entry.features, spec)
        except InputError:
            continue
        rows.append(LabelledRow(prediction_id, values, label, entry.timestamp))
    rows.sort(key=lambda row: (row.timestamp, row.id), reverse=True)
    used = rows[:max_rows]
    stats = FeedbackStats(
        labels=len(entries), used=len(used), bad=len(entries) - len(rows), no_text=no_text
    )
    log.info("feedback loaded", extra={"model": model, **vars(stats)})
    return used, stats


def _checked_values(values: Features, spec: ModelSpec) -> Features:
    """One numeric instance's values, checked against the spec's width and range."""
    width = spec.input.width or values.size
    checked = validate_vectors(values.reshape(1, width), width=width, value_range=spec.input.range)
    return np.asarray(checked[0], dtype=np.float32)


def assign_part(prediction_id: str, test_fraction: float, val_fraction: float) -> str:
    """``test``, ``val`` or ``train`` for an id, the same every time (SHA-256 of the id)."""
    digest = hashlib.sha256(prediction_id.encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    if point < test_fraction:
        return "test"
    if point < test_fraction + val_fraction:
        return "val"
    return "train"


def split_rows(
    rows: Iterable[LabelledRow], *, test_fraction: float, val_fraction: float, repeat: int = 1
) -> ExtraRows:
    """Rows by part (see :func:`assign_part`); training rows repeated ``repeat`` times."""
    parts: dict[str, tuple[list[Any], list[int]]] = {
        name: ([], []) for name in ("train", "val", "test")
    }
    rows = list(rows)
    texts = bool(rows) and isinstance(rows[0].features, str)
    width = 0 if texts or not rows else int(np.asarray(rows[0].features).size)
    for row in rows:
        xs, ys = parts[assign_part(row.id, test_fraction, val_fraction)]
        xs.append(row.features)
        ys.append(row.label)

    def arrays(name: str, times: int = 1) -> tuple[Features, Labels]:
        xs, ys = parts[name]
        y = np.tile(np.asarray(ys, dtype=np.int64), times)
        if texts:
            return np.asarray(xs * times, dtype=object), y
        if not xs:  # no feedback: an empty part (joined to any width by add_rows)
            return np.zeros((0, width), dtype=np.float32), y
        x = np.asarray(xs, dtype=np.float32).reshape(-1, width)
        return np.tile(x, (times, 1)), y

    return ExtraRows(train=arrays("train", repeat), val=arrays("val"), test=arrays("test"))
