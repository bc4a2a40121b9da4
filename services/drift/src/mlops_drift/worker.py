"""The check worker: runs checks one at a time off the event loop, in a process it owns.

Checks are CPU-bound (Evidently, seconds), so by default they run in a worker process started
with ``spawn`` (a clean interpreter, no fork of a process with an event loop and threads), fed
over a pipe by one thread of this process. A worker process that dies fails the call it was
running, or the next one, with :class:`CheckWorkerDiedError`; the call after that starts a new
process. :meth:`CheckWorker.close` is bounded: it waits for a running check, then kills the
process. ``kind="thread"`` runs the calls in that thread instead (tests, debugging).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class CheckWorkerDiedError(BrokenExecutor):
    """The worker process died (killed, out of memory) before it answered."""


def _serve(connection: Connection, initializer: Callable[[], object] | None) -> None:
    """The worker process: run each ``(func, args)`` received, send back ``(ok, value)``."""
    if initializer is not None:
        initializer()
    while True:
        try:
            func, args = connection.recv()
        except EOFError:  # the service closed its end
            return
        try:
            reply: tuple[bool, Any] = (True, func(*args))
        except Exception as exc:
            reply = (False, exc)
        try:
            connection.send(reply)
        except Exception as exc:  # a value or an exception that does not pickle
            connection.send((False, RuntimeError(f"cannot send the outcome back: {exc!r}")))


class CheckWorker:
    """One worker process (or thread) for the checks, replaced when it dies."""

    def __init__(
        self,
        kind: Literal["process", "thread"] = "process",
        initializer: Callable[[], object] | None = None,
    ) -> None:
        self._in_process = kind == "process"
        self._initializer = initializer
        # One thread feeds the worker, so calls run one at a time, in order.
        self._calls = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drift-check")
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None

    @property
    def process(self) -> BaseProcess | None:
        """The worker process now (None in a thread worker, or before the first call)."""
        return self._process

    def start(self) -> None:
        """Start the worker (and its ``initializer``, e.g. imports) now, not at the first call."""
        self._calls.submit(self._start)

    async def run(self, func: Callable[..., T], *args: object) -> T:
        """``func(*args)`` in the worker; an exception it raises is raised here.

        Raises:
            CheckWorkerDiedError: the worker process died; the next call starts a new one.
        """
        loop = asyncio.get_running_loop()
        result: T = await loop.run_in_executor(self._calls, self._call, func, args)
        return result

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop: wait up to ``timeout_s`` for a running call, then kill the worker process.

        A shutdown must end within the pod's grace period even when a check hangs (or the
        worker died with the signal the service got: its group shares it).
        """
        stopping = asyncio.to_thread(self._calls.shutdown, wait=True, cancel_futures=True)
        try:
            await asyncio.wait_for(asyncio.shield(stopping), timeout_s)
        except TimeoutError:
            log.warning("the check worker did not stop in %.0fs; killing it", timeout_s)
        process = self._process
        if process is not None:  # idle (it keeps no state) or hung
            process.kill()
            await asyncio.to_thread(process.join, timeout_s)

    # -- on the feeding thread ---------------------------------------------------------------

    def _start(self) -> None:
        if self._in_process:
            self._connect()
        elif self._initializer is not None:
            self._initializer()

    def _connect(self) -> Connection:
        if self._connection is None:
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe()
            self._process = context.Process(
                target=_serve, args=(theirs, self._initializer), name="drift-check", daemon=True
            )
            self._process.start()
            theirs.close()  # the worker holds the only copy: its death reads as EOF here
            self._connection = ours
        return self._connection

    def _call(self, func: Callable[..., T], args: tuple[object, ...]) -> T:
        if not self._in_process:
            return func(*args)
        connection = self._connect()
        try:
            connection.send((func, args))
            ok, value = connection.recv()
        except (EOFError, OSError) as exc:
            self._connection = None
            connection.close()
            log.error("the check worker died; a new one starts at the next call")
            raise CheckWorkerDiedError("the check worker process died") from exc
        if not ok:
            raise value
        result: T = value
        return result
