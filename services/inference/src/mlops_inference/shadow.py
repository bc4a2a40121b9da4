"""Shadow evaluation: a staged candidate answers live requests beside production, off the path.

A :class:`Shadow` holds one served model's candidate (it is the :class:`ModelSlot` that the
candidate's :class:`~mlops_inference.manager.ModelManager` loads into; when and what to load is
:mod:`mlops_inference.candidate`'s business). The endpoint hands it each answer *after* it is
computed (:meth:`Shadow.offer`: a coin toss against the share and a ``put_nowait`` on a bounded
queue; a full queue drops the shadow work and counts it, never the answer). A background task
lets work gather for a few milliseconds, takes up to ``max_batch_size`` rows and runs the
candidate: on the event loop itself when a full batch of it takes at most ``inline_max_ms``
(as the endpoint runs production; a thread hop and the worker thread's wake-ups cost more than
such a run, and slowed production's own runs), else in its own worker thread (onnxruntime
releases the GIL; the thread runs at the lowest CPU priority). It compares the answers a batch
at a time and buffers one :class:`~mlops_common.shadow.ShadowRecord` per request, kept by
batch, which :class:`~mlops_inference.shadow_records.ShadowRecordWriter` writes to
``shadow:<model>`` (one stream entry per candidate batch, off the event loop). A request whose
id holds a comma cannot be named in an entry: it is not shadowed (counted as ``failed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from redis import Redis

from mlops_common.shadow import LIST_SEPARATOR, ShadowRecord
from mlops_inference.batcher import Arrays, layout
from mlops_inference.endpoint import Ran
from mlops_inference.metrics import InferenceMetrics
from mlops_inference.model import OnnxModel
from mlops_inference.settings import InferenceSettings
from mlops_inference.shadow_records import FLUSH_INTERVAL_S, ShadowRecordWriter

log = logging.getLogger(__name__)

#: How long the shadow loop lets work gather before a candidate run: nobody waits for a shadow
#: answer, and each run (a thread hop, a session call) costs the same for 1 row or 64.
GATHER_S = 0.005
#: The output tensor read when a version has no model spec (the contract's name).
DEFAULT_ANSWER_TENSOR = "probabilities"
#: The ``role`` label of ``inference_shadow_confidence_sum``.
ROLES = ("production", "candidate")


def answer_tensor(model: OnnxModel) -> str:
    """The output whose argmax is the class: the spec's ``output.tensor``, else the contract's
    ``probabilities``, else the model's last output."""
    if model.spec is not None:
        return model.spec.output.tensor
    names = model.output_names
    return DEFAULT_ANSWER_TENSOR if DEFAULT_ANSWER_TENSOR in names else names[-1]


def labels_and_confidences(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's class index (argmax) and confidence (max) of a ``[rows, classes]`` output."""
    flat = scores.reshape(len(scores), -1)
    labels = flat.argmax(axis=1)
    return labels, flat[np.arange(len(flat)), labels].astype(np.float64)


def _lowest_priority() -> None:
    """Worker-thread initializer: nice 19 for this thread only (Linux), so shadow runs yield.

    Only the candidate's runner gets it: it holds the GIL just for the few µs around
    ``session.run``. The writer thread runs Python throughout, and a starved thread holding the
    GIL would stall the event loop, so it keeps the normal priority.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


@dataclass(eq=False, slots=True)
class _Job:
    """One request offered for shadowing, with production's whole answer."""

    request_id: str
    inputs: Arrays
    outputs: Arrays
    ran: Ran

    @property
    def rows(self) -> int:
        """The request's number of rows."""
        return len(next(iter(self.inputs.values())))


class Shadow:
    """One served model's candidate slot, shadow queue, and record writer."""

    def __init__(
        self,
        name: str,
        settings: InferenceSettings,
        metrics: InferenceMetrics,
        redis: Redis,
        *,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        gather_s: float = GATHER_S,
    ) -> None:
        self.name = name
        #: Share of requests shadowed (set from the rollout hash by the controller).
        self.share = settings.shadow_share
        #: The production output holding the class scores (set from the served model's spec).
        self.production_tensor = DEFAULT_ANSWER_TENSOR
        #: Why the candidate's last load failed (``ModelSlot``).
        self.error: str | None = None
        self._model: OnnxModel | None = None
        self._metrics = metrics
        self._max_rows = settings.max_batch_size
        self._gather_s = gather_s
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=settings.shadow_queue_size)
        self._carry: _Job | None = None
        self._inline_s = settings.inline_max_ms / 1000.0
        self._failing_version: str | None = None
        self._executor = ThreadPoolExecutor(1, f"shadow-{name}", initializer=_lowest_priority)
        self._tasks: list[asyncio.Task[None]] = []
        outcome = metrics.shadow_requests
        self._run, self._dropped = outcome.labels(name, "run"), outcome.labels(name, "dropped")
        self._failed = outcome.labels(name, "failed")
        #: Where the records go: buffered by candidate batch, written to ``shadow:<model>``.
        self.records = ShadowRecordWriter(
            name, redis, outcome.labels(name, "unwritten"), flush_interval_s
        )
        self._rows = metrics.shadow_rows.labels(name)
        self._agreed = metrics.shadow_agreed_rows.labels(name)
        confidence = metrics.shadow_confidence
        self._confidence = {role: confidence.labels(name, role) for role in ROLES}
        self._duration = metrics.shadow_batch_duration.labels(name)

    # -- the candidate slot (ModelSlot) -------------------------------------------------------
    @property
    def model(self) -> OnnxModel | None:
        """The loaded candidate, or ``None``."""
        return self._model

    def swap(self, model: OnnxModel) -> OnnxModel | None:
        """Hold ``model`` as the candidate; return the previous one."""
        old, self._model = self._model, model
        self.error = None
        if old is not None:
            self._metrics.shadow_candidate.remove(self.name, old.version)
        self._metrics.shadow_candidate.labels(self.name, model.version).set(1)
        log.info("shadow candidate loaded", extra={"model": self.name, "version": model.version})
        return old

    def fail(self, reason: str) -> None:
        """Remember why the candidate did not load."""
        self.error = reason

    def unload(self) -> None:
        """Drop the candidate (queued work is then discarded)."""
        old, self._model = self._model, None
        if old is not None:
            self._metrics.shadow_candidate.remove(self.name, old.version)
            extra = {"model": self.name, "version": old.version}
            log.info("shadow candidate unloaded", extra=extra)

    # -- the response path ------------------------------------------------------------------
    def offer(self, request_id: str, inputs: Arrays, outputs: Arrays, ran: Ran) -> None:
        """Queue a computed answer for the candidate (share permitting); never waits."""
        if self.share < 1.0 and random.random() >= self.share:  # nosec B311: samples traffic for shadowing, not security-related
            return
        if LIST_SEPARATOR in request_id:  # a stream entry cannot name it
            self._failed.inc()
            return
        try:
            self._queue.put_nowait(_Job(request_id, inputs, outputs, ran))
        except asyncio.QueueFull:
            self._dropped.inc()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start draining the queue and flushing records (on the serving event loop)."""
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._drain(), name=f"shadow:{self.name}"),
                loop.create_task(self.records.run(), name=f"shadow-flush:{self.name}"),
            ]

    async def stop(self) -> None:
        """Stop shadowing; write what is buffered (best effort)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.records.close()
        self._executor.shutdown(wait=True)

    # -- the shadow path ----------------------------------------------------------------------
    async def _take(self) -> list[_Job]:
        """The next jobs of one layout, up to ``max_batch_size`` rows (the first always)."""
        if self._carry is not None:
            first, self._carry = self._carry, None
        else:
            first = await self._queue.get()
        if first.rows < self._max_rows:
            await asyncio.sleep(self._gather_s)  # let more work queue: fewer, larger runs
        jobs, rows, key = [first], first.rows, layout(first.inputs)
        while rows < self._max_rows and not self._queue.empty():
            job = self._queue.get_nowait()
            if rows + job.rows > self._max_rows or layout(job.inputs) != key:
                self._carry = job
                break
            jobs.append(job)
            rows += job.rows
        return jobs

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._take()
            model = self._model
            if model is None:
                continue
            # A candidate promoted meanwhile is production: nothing to compare.
            jobs = [job for job in jobs if job.ran.version != model.version]
            if not jobs:
                continue
            if len(jobs) == 1:
                inputs = jobs[0].inputs
            else:
                inputs = {k: np.concatenate([j.inputs[k] for j in jobs]) for k in jobs[0].inputs}
            try:
                if model.batch_seconds <= self._inline_s:  # a full batch takes under the limit
                    outputs, seconds = model.predict_timed(inputs)
                else:
                    outputs, seconds = await loop.run_in_executor(
                        self._executor, model.predict_timed, inputs
                    )
            except Exception as exc:
                self._failed.inc(len(jobs))
                if self._failing_version != model.version:
                    self._failing_version = model.version
                    log.warning(
                        "shadow candidate failed",
                        extra={"model": self.name, "version": model.version, "reason": str(exc)},
                    )
                continue
            self._compare(model, jobs, outputs, seconds)
            await asyncio.sleep(0)  # let the response path run between shadow batches

    def _compare(self, model: OnnxModel, jobs: list[_Job], outputs: Arrays, seconds: float) -> None:
        """Count and buffer one record per job from the candidate's ``outputs`` (one batch;
        one stream entry per production version, nearly always one)."""
        self._duration.observe(seconds)
        tensor = self.production_tensor
        if any(tensor not in job.outputs for job in jobs):
            self._failed.inc(len(jobs))
            return
        scores = [job.outputs[tensor] for job in jobs]
        production = scores[0] if len(scores) == 1 else np.concatenate(scores)
        own_labels, own_confidences = labels_and_confidences(production)
        labels, confidences = labels_and_confidences(outputs[answer_tensor(model)])
        self._rows.inc(len(labels))
        self._agreed.inc(int((own_labels == labels).sum()))
        self._confidence["production"].inc(float(own_confidences.sum()))
        self._confidence["candidate"].inc(float(confidences.sum()))
        self._run.inc(len(jobs))
        columns = (own_labels, own_confidences, labels, confidences)
        p_labels, p_confidences, c_labels, c_confidences = (c.tolist() for c in columns)
        candidate_ms, version, end = seconds * 1000.0, model.version, 0
        now = time.time()
        entries: dict[str, list[ShadowRecord]] = {}
        for job, part in zip(jobs, scores, strict=True):
            start, end = end, end + len(part)
            entries.setdefault(job.ran.version, []).append(
                ShadowRecord(
                    job.request_id,
                    job.ran.version,
                    version,
                    p_labels[start:end],
                    p_confidences[start:end],
                    c_labels[start:end],
                    c_confidences[start:end],
                    job.ran.ms,
                    candidate_ms,
                    now,
                )
            )
        for records in entries.values():
            self.records.add(records)

    async def flush(self) -> None:
        """Write the buffered records now (tests, shutdown)."""
        await self.records.flush()
