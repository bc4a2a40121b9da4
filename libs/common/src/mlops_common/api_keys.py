"""API keys of the admin routes, shared by the gateway and the drift service.

Keys are held as :class:`~pydantic.SecretStr`, so a settings object printed, logged or shown in a
traceback reads ``**********``; they come from the environment as a comma-separated list
(``GATEWAY_ADMIN_API_KEYS``, ``DRIFT_ADMIN_API_KEYS``). A request's key is compared with every
configured key in constant time (:func:`check_key`), and nothing here ever puts a key, given or
configured, into a message.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Final

from pydantic import SecretStr

#: The header every admin route reads its key from.
API_KEY_HEADER: Final = "X-API-Key"
#: The shortest key production mode accepts.
MIN_PRODUCTION_KEY_LENGTH: Final = 16
#: Keys production mode refuses whatever their length (defaults and placeholders).
WEAK_KEYS: Final = frozenset(
    {"dev-admin-key", "local-admin-key", "changeme", "change-me", "admin", "secret"}
)


class KeyCheck(Enum):
    """What a request's key amounts to."""

    MISSING = "missing"  # no key sent: 401
    WRONG = "wrong"  # a key that is not one of the configured ones: 403
    NONE_CONFIGURED = "none_configured"  # the service accepts no key at all: 403
    OK = "ok"


def split_keys(value: object) -> object:
    """A comma-separated string as a list of its non-empty, stripped keys (other values as is)."""
    if isinstance(value, str):
        return [key.strip() for key in value.split(",") if key.strip()]
    return value


def check_key(given: str | None, keys: Sequence[SecretStr]) -> KeyCheck:
    """Compare ``given`` with every configured key in constant time (no early exit)."""
    if not given:
        return KeyCheck.MISSING
    if not keys:
        return KeyCheck.NONE_CONFIGURED
    sent = given.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(sent, key.get_secret_value().encode())
    return KeyCheck.OK if matched else KeyCheck.WRONG


def weak_keys(keys: Iterable[SecretStr]) -> int:
    """How many of ``keys`` production mode refuses (a default or shorter than the minimum)."""
    return sum(
        1
        for key in keys
        if key.get_secret_value().lower() in WEAK_KEYS
        or len(key.get_secret_value()) < MIN_PRODUCTION_KEY_LENGTH
    )
