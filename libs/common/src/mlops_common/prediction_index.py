"""The index of prediction ids that feedback may name, kept in hourly Redis hashes.

``predictions:<bucket>`` (``bucket`` = unix time // 3600) is a hash: field = an id feedback may
name, value = ``<model>|<prediction id>`` (:func:`index_value`): the served model that answered,
and the prediction id the field names, left empty when the id names itself (the common case, to
save memory). A one-instance request's ``request_id`` is a field whose value names its
prediction id. A value without ``|`` (written before models had names here) is a prediction id.
Each hash expires ``ttl`` after its hour ends, so an id is known for at least
``ttl`` and at most ``ttl`` + 1 h.

The gateway writes one ``HSET`` and one ``EXPIREAT`` per flush, however many predictions it holds.
For Redis a hash field costs a fraction of a key with its own expiry (a key per prediction
took more CPU than the ``XADD`` of its traffic entry), and it needs less memory per id.
"""

from __future__ import annotations

import math
from typing import Final

#: Width of one index hash, in seconds.
BUCKET_S: Final = 3600
INDEX_PREFIX: Final = "predictions:"
_SEPARATOR: Final = "|"


def index_value(model: str, prediction_id: str = "") -> str:
    """The value stored for an id: the model that answered and the id it names ("" = itself)."""
    return f"{model}{_SEPARATOR}{prediction_id}"


def parse_index_value(identifier: str, value: str) -> tuple[str | None, str]:
    """``(model, prediction id)`` of the index entry ``identifier`` → ``value``.

    The model is ``None`` for a value written without one.
    """
    model, separator, named = value.rpartition(_SEPARATOR)
    if not separator:
        return None, value or identifier
    return model, named or identifier


def bucket_of(timestamp: float) -> int:
    """The bucket an id logged at ``timestamp`` (unix seconds) goes into."""
    return math.floor(timestamp / BUCKET_S)


def index_key(bucket: int) -> str:
    """The hash holding the ids logged during ``bucket``."""
    return f"{INDEX_PREFIX}{bucket}"


def expires_at(bucket: int, ttl_s: int) -> int:
    """Unix time at which ``bucket``'s hash expires: ``ttl_s`` after its hour ends."""
    return (bucket + 1) * BUCKET_S + ttl_s


def live_keys(now: float, ttl_s: int) -> list[str]:
    """Every hash that may still hold an id logged within ``ttl_s`` of ``now``, newest first.

    One bucket ahead is included, for a replica whose clock runs ahead of this one's.
    """
    newest = bucket_of(now) + 1
    oldest = bucket_of(now - ttl_s) - 1
    return [index_key(bucket) for bucket in range(newest, oldest - 1, -1)]
