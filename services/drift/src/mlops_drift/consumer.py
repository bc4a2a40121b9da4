"""Reads a model's ``traffic:<model>`` stream through the ``drift`` group into its window."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mlops_common.redis_keys import (
    DRIFT_CONSUMER_GROUP,
    TrafficDecodeError,
    TrafficEntry,
    traffic_stream,
)
from mlops_drift.metrics import ModelMetrics
from mlops_drift.window import SlidingWindow

log = logging.getLogger(__name__)

_RETRY_FIRST_S = 0.1
_RETRY_MAX_S = 5.0
#: Errors that mean the stream (or the group) was deleted: NOGROUP when reading, UNBLOCKED for a
#: read that was blocked when the key went away.
_STREAM_GONE = ("NOGROUP", "UNBLOCKED")


class TrafficConsumer:
    """One member of the consumer group: read, decode, add to the window, acknowledge.

    Entries are acknowledged as soon as they are in the window. The window lives in memory, so
    a process that starts first refills it (:meth:`refill`) with the newest entries the group
    had already delivered, then reads on from there: a restart does not empty the window.
    Malformed entries are counted, logged and acknowledged (never retried forever); so are
    entries that do not log the number of values ``width`` returns (the model's spec's
    :attr:`~mlops_common.model_spec.ModelSpec.logged_width`: a numeric input's width, or a text
    model's count of ``output:<tensor>:<i>`` columns; None accepts any). ``accept`` can drop
    entries (e.g. from a model version the reference no longer describes). A text model's
    entries also carry their text: the window keeps only the logged values (drift never reads
    the text), so a full window stays small.
    """

    def __init__(
        self,
        redis: Redis,
        window: SlidingWindow,
        metrics: ModelMetrics,
        *,
        model: str,
        consumer_name: str,
        count: int = 500,
        block_ms: int = 1000,
        start_from: str = "latest",
        accept: Callable[[TrafficEntry], bool] = lambda _entry: True,
        width: Callable[[], int | None] = lambda: None,
    ) -> None:
        self._redis = redis
        self.model = model
        self.stream = traffic_stream(model)
        self._width = width
        self._window = window
        self._metrics = metrics
        self.consumer_name = consumer_name
        self.count = count
        self.block_ms = block_ms
        self._start_id = "$" if start_from == "latest" else "0"
        self._accept = accept
        self._group_unknown = True
        # "0": this consumer's pending entries first (read before a crash, never acknowledged),
        # then ">" (new ones) once none is left.
        self._read_id = "0"
        self._refilled = False
        #: The group's last delivered entry when :meth:`refill` ran: entries up to it that are
        #: delivered again (pending ones) are in the window already. Cleared once none is
        #: pending, so new entries are not compared.
        self._refilled_upto: tuple[int, int] | None = None

    async def ensure_group(self) -> bool:
        """Create the consumer group (and the stream) unless it exists; True when it made it."""
        try:
            await self._redis.xgroup_create(
                self.stream, DRIFT_CONSUMER_GROUP, id=self._start_id, mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False
        return True

    async def poll_once(self) -> int:
        """Read one batch (blocking up to ``block_ms``); return how many entries were added.

        A consumer that starts (or whose Redis came back) first reads the entries delivered to
        it and never acknowledged (a crash between read and ``XACK``), so none is skipped; the
        window they went into died with the process, so none is counted twice.
        """
        response: Any = None
        if self._read_id == "0":
            response = await self._read("0", block_ms=None)
            if not any(messages for _stream, messages in response or []):
                self._read_id = ">"  # nothing pending: new entries from now on
                self._refilled_upto = None  # every new entry comes after the refill's
        if self._read_id == ">":
            response = await self._read(">", block_ms=self.block_ms)
        if not response:
            return 0
        ids: list[bytes | str] = []
        fresh: list[tuple[bytes | str, dict[Any, Any]]] = []
        for _stream, messages in response:
            for message_id, fields in messages:
                ids.append(message_id)
                if self._refilled_upto is None or _stream_id(message_id) > self._refilled_upto:
                    fresh.append((message_id, fields))
        entries = self._decode(fresh, count_bad=True)
        added = self._window.add(entries)
        self._metrics.entries.inc(added)
        self._metrics.window_size.set(len(self._window))
        if ids:
            await self._redis.xack(self.stream, DRIFT_CONSUMER_GROUP, *ids)
        return added

    async def refill(self) -> int:
        """Fill the window with the newest entries the group had delivered before this process
        started (at most the window's size, ``XREVRANGE`` up to the group's last delivered
        entry); return how many went in. :meth:`run` calls it once, unless it made the group.

        Only entries of the model version that answered the newest of them are kept, so a
        window refilled after a promotion does not mix versions. Entries that were delivered
        and never acknowledged, read again next, are acknowledged without going in twice.
        """
        groups = await self._redis.xinfo_groups(self.stream)
        last = next(
            (g["last-delivered-id"] for g in groups if _text(g["name"]) == DRIFT_CONSUMER_GROUP),
            None,
        )
        if last is None or _stream_id(last) == (0, 0):
            return 0
        self._refilled_upto = _stream_id(last)
        messages: Any = await self._redis.xrevrange(
            self.stream, max=last, min="-", count=self._window.max_size
        )
        entries = self._decode(list(reversed(messages)), count_bad=False)
        if entries:
            version = entries[-1].model_version
            entries = [entry for entry in entries if entry.model_version == version]
        added = self._window.add(entries)
        self._metrics.window_size.set(len(self._window))
        log.info("window refilled from the stream", extra={"model": self.model, "entries": added})
        return added

    def _decode(
        self, messages: list[tuple[bytes | str, dict[Any, Any]]], *, count_bad: bool
    ) -> list[TrafficEntry]:
        """The accepted entries of ``messages``, texts left out (drift never reads them)."""
        entries: list[TrafficEntry] = []
        width = self._width()
        for message_id, fields in messages:
            try:
                entry = TrafficEntry.decode(fields, width)
            except TrafficDecodeError as exc:
                if count_bad:
                    self._metrics.bad_entries.inc()
                    log.warning(
                        "malformed traffic entry skipped",
                        extra={"model": self.model, "entry_id": str(message_id), "error": str(exc)},
                    )
                continue
            if self._accept(entry):
                entries.append(entry if entry.text is None else replace(entry, text=None))
        return entries

    async def _read(self, start: str, block_ms: int | None) -> Any:
        return await self._redis.xreadgroup(
            DRIFT_CONSUMER_GROUP,
            self.consumer_name,
            {self.stream: start},
            count=self.count,
            block=block_ms,
        )

    async def run(self) -> None:
        """Consume until cancelled; survive Redis restarts (the group is re-created).

        redis-py's :class:`~redis.asyncio.retry.Retry` retries a failed read with exponential
        backoff (0.1 s doubling up to 5 s), from the first step again after each read.
        """
        retry = Retry(
            ExponentialBackoff(cap=_RETRY_MAX_S, base=_RETRY_FIRST_S / 2),
            retries=-1,
            supported_errors=(RedisConnectionError, RedisTimeoutError, ResponseError),
        )
        while True:
            await retry.call_with_retry(self._poll, self._failed)

    async def _poll(self) -> None:
        if self._group_unknown:
            if await self.ensure_group():
                self._refilled = True  # a group made now has delivered nothing before
            self._group_unknown = False
        if not self._refilled:
            await self.refill()
            self._refilled = True
        await self.poll_once()

    async def _failed(self, error: Exception) -> None:
        self._group_unknown = True
        self._read_id = "0"  # what was read and not acknowledged is read again first
        if not isinstance(error, ResponseError):
            log.warning(
                "redis unreachable; retrying", extra={"model": self.model, "error": str(error)}
            )
        elif str(error).startswith(_STREAM_GONE):
            # re-create the group at the start of the stream there is now: the gateway may
            # have written to it already (``$`` would skip that).
            log.info(
                "traffic stream or group gone; re-creating the group", extra={"model": self.model}
            )
            self._start_id = "0"
        else:
            log.error("traffic stream read failed", exc_info=error, extra={"model": self.model})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stream_id(value: bytes | str) -> tuple[int, int]:
    """A stream entry id (``<ms>-<seq>``) as numbers, to compare."""
    ms, _, seq = _text(value).partition("-")
    return int(ms), int(seq or 0)
