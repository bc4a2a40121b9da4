"""Dynamic batching: concurrent requests share one model run, each gets exactly its rows back.

Requests wait in a bounded queue (full → :class:`QueueFullError`). One loop takes the first
waiting request and everything already queued behind it (up to ``max_batch_size`` rows, same
tensor layout) and runs them as one batch in a worker thread, or on the loop itself when
``inline()`` says the model is so fast that a thread hop would cost more. Batches form by
themselves while the model is busy; the optional ``max_wait`` lets a batch that *is* forming
(more than one request) wait a little for more, but a lone request on an idle server is
dispatched at once. A request that arrives after a quiet spell (``quiet_s`` since the one
before), finds nothing running or waiting, and whose rows ``inline()`` says are fast enough, runs
right in its caller's task: no queue, no task switch (requests arriving back to back still
queue, so they batch). The spell is timed with ``time.perf_counter``: uvloop's ``loop.time()``
counts whole milliseconds, too coarse for a spell of half of one.

A failed batch is re-run request by request, so an error reaches only the requests that cause
it. A caller that gives up (its task is cancelled) is dropped before its batch runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from mlops_inference.errors import InferenceError, QueueFullError, ShuttingDownError

log = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
#: What the runner says about the run that made a batch (the endpoint's: version and run time);
#: every request of the batch gets it back beside its own rows.
M = TypeVar("M")
#: Runs one batch (blocking) and returns the outputs and what made them.
Runner = Callable[[Arrays], tuple[Arrays, M]]
BatchResult = tuple[Arrays, M]


def layout(inputs: Arrays) -> tuple[tuple[str, str, tuple[int, ...]], ...]:
    """What must agree for requests to share a batch: names, dtypes and row shapes."""
    return tuple(sorted((k, v.dtype.str, v.shape[1:]) for k, v in inputs.items()))


@dataclass(eq=False, slots=True)
class _Pending(Generic[M]):
    inputs: Arrays
    rows: int
    future: asyncio.Future[BatchResult[M]]
    key: tuple[Any, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.key = layout(self.inputs)


class Batcher(Generic[M]):
    """Collects concurrent requests into batches and runs them on ``runner`` in a thread."""

    def __init__(
        self,
        runner: Runner[M],
        *,
        max_batch_size: int,
        max_wait_s: float = 0.0,
        max_queue_size: int = 1024,
        inline: Callable[[int], bool] = lambda rows: False,
        quiet_s: float = 0.0005,
    ) -> None:
        self._runner = runner
        self._inline = inline
        self._max_rows = max_batch_size
        self._max_wait = max_wait_s
        self._queue: asyncio.Queue[_Pending[M]] = asyncio.Queue(maxsize=max_queue_size)
        self._arrived = asyncio.Event()
        self._carry: _Pending[M] | None = None
        self._slot = asyncio.Semaphore(1)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch")
        self._running: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._closed = False
        self._busy = 0  # batches running
        self._quiet_s = quiet_s
        self._last_submit = float("-inf")

    @property
    def depth(self) -> int:
        """Requests waiting for a batch."""
        return self._queue.qsize() + (self._carry is not None)

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._loop(), name="batcher")

    async def submit(self, inputs: Arrays, rows: int) -> BatchResult[M]:
        """Queue ``inputs`` (``rows`` rows each) and wait for exactly their outputs."""
        if self._closed:
            raise ShuttingDownError("the server is shutting down")
        loop = asyncio.get_running_loop()
        now, last = time.perf_counter(), self._last_submit
        self._last_submit = now
        if (
            now - last >= self._quiet_s
            and not self._busy
            and self._carry is None
            and self._queue.empty()
            and self._inline(rows)
        ):
            try:
                outputs, meta = self._runner(inputs)  # alone and fast: straight through
            finally:
                self._last_submit = time.perf_counter()  # later arrivals are not alone
            _check_rows(outputs, rows)
            return outputs, meta
        pending: _Pending[M] = _Pending(inputs, rows, loop.create_future())
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            raise QueueFullError(
                f"the inference queue is full ({self._queue.maxsize} requests waiting); retry later"
            ) from None
        self._arrived.set()
        return await pending.future

    async def stop(self) -> None:
        """Refuse new work, let running batches finish, fail what is still queued."""
        self._closed = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        await asyncio.gather(*self._running, return_exceptions=True)
        leftovers = [self._carry] if self._carry else []
        while not self._queue.empty():
            leftovers.append(self._queue.get_nowait())
        for pending in leftovers:
            if not pending.future.done():
                pending.future.set_exception(ShuttingDownError("the server is shutting down"))
        self._executor.shutdown(wait=True)

    async def _next(self) -> _Pending[M]:
        if self._carry is not None:
            pending, self._carry = self._carry, None
            return pending
        return await self._queue.get()

    def _fill(self, batch: list[_Pending[M]], rows: int) -> int:
        """Add what is already queued to ``batch`` while it fits; return the row count."""
        while rows < self._max_rows and self._carry is None and not self._queue.empty():
            pending = self._queue.get_nowait()
            if pending.future.done():
                continue
            if pending.key != batch[0].key or rows + pending.rows > self._max_rows:
                self._carry = pending
                break
            batch.append(pending)
            rows += pending.rows
        return rows

    async def _collect(self) -> list[_Pending[M]]:
        first = await self._next()
        if self._queue.empty() and not self._inline(first.rows):
            await asyncio.sleep(0)  # one loop pass: lets requests already received queue up
        batch = [first]
        rows = self._fill(batch, first.rows)
        if self._max_wait <= 0 or len(batch) == 1:
            return batch  # nothing is forming: go at once
        deadline = asyncio.get_running_loop().time() + self._max_wait
        while rows < self._max_rows and self._carry is None:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._arrived.clear()
            if self._queue.empty():
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    break
            rows = self._fill(batch, rows)
        return batch

    async def _loop(self) -> None:
        while True:
            await self._slot.acquire()
            try:
                batch = await self._collect()
            except BaseException:
                self._slot.release()
                raise
            if len(batch) == 1 and self._inline(batch[0].rows):
                await self._run(batch)  # a lone request on a fast model: no extra task hop
                continue
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[_Pending[M]]) -> None:
        self._busy += 1
        try:
            live = [p for p in batch if not p.future.done()]  # cancelled callers are dropped
            if live:
                await self._run_live(live)
        finally:
            self._busy -= 1
            self._slot.release()

    async def _execute(self, inputs: Arrays, rows: int) -> BatchResult[M]:
        if self._inline(rows):  # cheaper than a thread hop for a batch this fast
            return self._runner(inputs)
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._runner, inputs
        )

    async def _run_live(self, live: list[_Pending[M]]) -> None:
        rows = sum(p.rows for p in live)
        if len(live) == 1:
            inputs = live[0].inputs
        else:
            names = live[0].inputs
            inputs = {name: np.concatenate([p.inputs[name] for p in live]) for name in names}
        try:
            outputs, meta = await self._execute(inputs, rows)
            _check_rows(outputs, rows)
        except Exception as exc:
            if len(live) == 1:
                _resolve_error(live[0], exc)
                return
            log.warning("batch of %d requests failed; retrying one by one: %s", len(live), exc)
            for pending in live:
                await self._run_single(pending)
            return
        start = 0
        for pending in live:
            end = start + pending.rows
            if not pending.future.done():
                own = {name: array[start:end] for name, array in outputs.items()}
                pending.future.set_result((own, meta))
            start = end

    async def _run_single(self, pending: _Pending[M]) -> None:
        if pending.future.done():
            return
        try:
            outputs, meta = await self._execute(pending.inputs, pending.rows)
            _check_rows(outputs, pending.rows)
        except Exception as exc:
            _resolve_error(pending, exc)
        else:
            if not pending.future.done():
                pending.future.set_result((outputs, meta))


def _check_rows(outputs: Arrays, rows: int) -> None:
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != rows:
            raise InferenceError(f"model output {name!r} has {array.shape} for {rows} input rows")


def _resolve_error(pending: _Pending[Any], exc: Exception) -> None:
    if not pending.future.done():
        pending.future.set_exception(exc)
