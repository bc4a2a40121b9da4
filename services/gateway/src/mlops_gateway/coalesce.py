"""Coalescing: concurrent predictions of one model merged into one ``ModelInfer`` call.

Each model has a lane that lets at most ``max_inflight`` calls be in flight to inference. A
prediction that finds a free slot and nobody waiting is sent at once, on its own, in its own
task: with no concurrency nothing ever waits. A prediction that finds every slot taken waits;
when a call returns, everything waiting (up to ``max_rows`` rows) goes out as one call, its
inputs concatenated in arrival order, and each caller gets exactly its own rows of the answer
back. The call names every merged request's inference id and row count
(:mod:`mlops_common.segments`), so inference counts and shadows each one as the request it
was, and the prediction ids the gateway derives from each id join its shadow records.

A merged call runs in the context of its first request (its trace, its ``x-request-id``) and
with the deadline of the one that has least time left. If inference rejects a merged call as
invalid, each request is sent again alone, so a rejection reaches only the request that caused
it; any other failure (unavailable, deadline, a broken answer) reaches every request of the
call. A caller that gives up (its task is cancelled) before its call is sent is left out of it.
Under load a call carries many rows: the gateway and inference pay for one RPC where they paid
for many (benchmarks/serving_frameworks.py).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlops_common.model_spec import ModelSpec
from mlops_gateway.errors import InferenceRejectedError
from mlops_gateway.inference import InferenceClient, Prediction


@dataclass(eq=False, slots=True)
class _Waiting:
    """A prediction waiting for a free slot."""

    features: NDArray[np.float32]
    request_id: str
    infer_id: str
    deadline: float
    future: asyncio.Future[Prediction]
    context: contextvars.Context


class Lane:
    """The calls of one model (and spec) to inference, at most ``max_inflight`` at a time
    (0: no limit and no merging, every prediction its own call)."""

    def __init__(
        self,
        client: InferenceClient,
        name: str,
        spec: ModelSpec,
        *,
        max_inflight: int,
        max_rows: int,
        observe: Callable[[int], None] = lambda requests: None,
    ) -> None:
        self._client = client
        self._observe = observe
        self.name = name
        self.spec = spec
        self._max_inflight = max_inflight
        self._max_rows = max_rows
        self._inflight = 0
        self._waiting: deque[_Waiting] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Predictions waiting for a slot."""
        return len(self._waiting)

    async def predict(
        self, features: NDArray[np.float32], request_id: str, infer_id: str
    ) -> Prediction:
        """The prediction of ``features`` (``[n, width]``), alone or merged with others."""
        if self._max_inflight == 0 or (not self._waiting and self._inflight < self._max_inflight):
            self._inflight += 1
            self._observe(1)
            try:
                return await self._client.predict(
                    self.name, self.spec, features, request_id, infer_id=infer_id
                )
            finally:
                self._inflight -= 1
                self._dispatch()
        loop = asyncio.get_running_loop()
        waiting = _Waiting(
            features,
            request_id,
            infer_id,
            loop.time() + self._client.timeout_s,
            loop.create_future(),
            contextvars.copy_context(),
        )
        self._waiting.append(waiting)
        self._dispatch()
        return await waiting.future  # cancelled: the future is done, and is left out

    def _take(self) -> list[_Waiting]:
        """The next call's predictions: the first waiting one, then more while they fit."""
        batch: list[_Waiting] = []
        rows = 0
        while self._waiting:
            waiting = self._waiting[0]
            if waiting.future.done():  # its caller gave up
                self._waiting.popleft()
                continue
            n = len(waiting.features)
            if batch and rows + n > self._max_rows:
                break
            self._waiting.popleft()
            batch.append(waiting)
            rows += n
        return batch

    def _dispatch(self) -> None:
        """Send what waits while slots are free (each call in its own task)."""
        while self._waiting and self._inflight < self._max_inflight:
            batch = self._take()
            if not batch:
                return
            self._inflight += 1
            self._observe(len(batch))
            task = asyncio.get_running_loop().create_task(
                self._send(batch), context=batch[0].context
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[_Waiting]) -> None:
        try:
            await self._call(batch)
        except BaseException as exc:  # every caller learns why
            _fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._inflight -= 1
            self._dispatch()

    async def _alone(self, waiting: _Waiting) -> None:
        try:
            await self._call([waiting])
        except Exception as exc:
            _fail([waiting], exc)

    async def _call(self, batch: list[_Waiting]) -> None:
        first, merged = batch[0], len(batch) > 1
        timeout = max(min(w.deadline for w in batch) - asyncio.get_running_loop().time(), 0.001)
        try:
            result = await self._client.predict(
                self.name, self.spec,
                np.concatenate([w.features for w in batch]) if merged else first.features,
                first.request_id, infer_id=first.infer_id, timeout_s=timeout,
                segments=tuple((w.infer_id, len(w.features)) for w in batch) if merged else (),
            )  # fmt: skip
        except InferenceRejectedError:
            if not merged:
                raise
            await asyncio.gather(*(self._alone(w) for w in batch))
            return
        start = 0
        for waiting in batch:
            end = start + len(waiting.features)
            own = result.probabilities[start:end]
            _resolve(waiting, Prediction(result.model_name, result.model_version, own))
            start = end


def _resolve(waiting: _Waiting, result: Prediction) -> None:
    if not waiting.future.done():
        waiting.future.set_result(result)


def _fail(batch: list[_Waiting], exc: BaseException) -> None:
    for waiting in batch:
        if waiting.future.done():
            continue
        if isinstance(exc, asyncio.CancelledError):
            waiting.future.cancel()
        else:
            waiting.future.set_exception(exc)


class Coalescer:
    """A :class:`Lane` per model name, made on first use."""

    def __init__(
        self,
        client: InferenceClient,
        *,
        max_inflight: int,
        max_rows: int,
        observe: Callable[[int], None] = lambda requests: None,
    ) -> None:
        """``observe(n)`` is told the number of predictions of each call (a metric)."""
        self._client = client
        self._max_inflight = max_inflight
        self._max_rows = max_rows
        self._observe = observe
        self._lanes: dict[str, Lane] = {}

    def lane(self, name: str, spec: ModelSpec) -> Lane:
        """The lane of ``name`` served with ``spec``.

        A new spec (a new version's) gets a new lane: calls of the old one still finish, but
        no call mixes rows of two specs.
        """
        lane = self._lanes.get(name)
        if lane is None or (lane.spec is not spec and lane.spec != spec):
            lane = Lane(
                self._client,
                name,
                spec,
                max_inflight=self._max_inflight,
                max_rows=self._max_rows,
                observe=self._observe,
            )
            self._lanes[name] = lane
        return lane

    async def predict(
        self,
        name: str,
        spec: ModelSpec,
        features: NDArray[np.float32],
        request_id: str,
        infer_id: str,
    ) -> Prediction:
        """The prediction of ``features`` by the model ``name`` (see :class:`Lane`)."""
        return await self.lane(name, spec).predict(features, request_id, infer_id)
