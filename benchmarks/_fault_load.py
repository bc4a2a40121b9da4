"""Steady load for the fault suite: predictions, each answered one followed by its feedback.

Several lanes (threads) each send one request at a time at a fixed pace, so a request that hangs
holds up one lane only and the others keep measuring. Every answer is recorded with its send
and answer times, status and error code: the suite reads from them when errors began, when 200s
came back, and which prediction ids and feedback labels the platform acknowledged (to reconcile
them with Redis afterwards).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
import numpy as np

TIMEOUT = "timeout"  # the status of a request that got no answer within the client's deadline


@dataclass(frozen=True)
class Answer:
    """One request and what came back."""

    kind: str  # "predict" or "feedback"
    sent: float  # time.monotonic()
    done: float
    status: int | str  # HTTP status, or TIMEOUT / the transport error's name
    code: str = ""  # the error shape's code, when there is one
    prediction_id: str = ""
    label: int = -1
    version: str = ""  # the model version that answered a prediction


@dataclass
class FaultLoad:
    """``lanes`` threads of predictions of ``rows`` (digits) at ``rate_per_s`` in all."""

    base_url: str
    rows: np.ndarray
    labels: np.ndarray
    rate_per_s: float = 40.0
    lanes: int = 4
    deadline_s: float = 5.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Self:
        for lane in range(self.lanes):
            thread = threading.Thread(target=self._run, args=(lane,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.deadline_s + 5)

    def _record(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def _call(self, client: httpx.Client, kind: str, path: str, body: dict[str, Any]) -> Answer:
        sent = time.monotonic()
        try:
            response = client.post(path, json=body)
        except httpx.TimeoutException:
            return Answer(kind, sent, time.monotonic(), TIMEOUT)
        except httpx.HTTPError as exc:
            return Answer(kind, sent, time.monotonic(), type(exc).__name__)
        done = time.monotonic()
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code != 200:
            error = payload.get("error") if isinstance(payload, dict) else None
            code = str(error.get("code", "")) if isinstance(error, dict) else "no_error_shape"
            return Answer(kind, sent, done, response.status_code, code)
        if kind != "predict":
            return Answer(kind, sent, done, 200)
        pid, version = str(payload["predictions"][0]["id"]), str(payload["model"]["version"])
        return Answer(kind, sent, done, 200, prediction_id=pid, version=version)

    def _run(self, lane: int) -> None:
        period = self.lanes / self.rate_per_s
        index = lane
        with httpx.Client(base_url=self.base_url, timeout=self.deadline_s) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                row = index % len(self.rows)
                body = {"instances": [self.rows[row].tolist()]}
                predicted = self._call(client, "predict", "/v1/predict", body)
                self._record(predicted)
                if predicted.status == 200:
                    label = int(self.labels[row])
                    feedback = self._call(
                        client,
                        "feedback",
                        "/v1/feedback",
                        {"id": predicted.prediction_id, "label": label},
                    )
                    self._record(
                        Answer(
                            "feedback",
                            feedback.sent,
                            feedback.done,
                            feedback.status,
                            feedback.code,
                            predicted.prediction_id,
                            label,
                        )
                    )
                index += self.lanes
                self._stop.wait(max(0.0, period - (time.monotonic() - started)))

    # What the suite reads -------------------------------------------------------------------

    def between(self, start: float, end: float, kind: str = "predict") -> list[Answer]:
        """The ``kind`` answers to requests sent in ``[start, end)``."""
        with self._lock:
            return [a for a in self.answers if a.kind == kind and start <= a.sent < end]

    def statuses(self, start: float, end: float, kind: str = "predict") -> dict[str, int]:
        """How many answers of each status (``"200"``, ``"503 inference_unavailable"``, …)."""
        counts = Counter(f"{a.status} {a.code}".strip() for a in self.between(start, end, kind))
        return dict(sorted(counts.items()))

    def first_error(self, after: float, kind: str = "predict") -> Answer | None:
        """The first answer that was not a 200, among requests sent after ``after``."""
        failed = [a for a in self.between(after, float("inf"), kind) if a.status != 200]
        return min(failed, key=lambda a: a.done) if failed else None

    def last_error(self, after: float, kind: str = "predict") -> Answer | None:
        """The last answer that was not a 200, among requests sent after ``after``."""
        failed = [a for a in self.between(after, float("inf"), kind) if a.status != 200]
        return max(failed, key=lambda a: a.done) if failed else None

    def first_ok(self, after: float, kind: str = "predict") -> Answer | None:
        """The first 200 to a request sent after ``after``."""
        ok = [a for a in self.between(after, float("inf"), kind) if a.status == 200]
        return min(ok, key=lambda a: a.done) if ok else None

    def slowest_s(self, start: float, end: float) -> float:
        """The longest wait for any answer (predict or feedback) sent in ``[start, end)``."""
        waits = [a.done - a.sent for a in self.answers if start <= a.sent < end]
        return max(waits, default=0.0)

    def acknowledged_feedback(self, start: float, end: float) -> dict[str, int]:
        """``prediction id → label`` of every feedback answered 200 in ``[start, end)``."""
        return {
            a.prediction_id: a.label
            for a in self.between(start, end, "feedback")
            if a.status == 200
        }

    def answered_ids(self, start: float, end: float) -> set[str]:
        """The ids of predictions answered 200 in ``[start, end)``."""
        return {a.prediction_id for a in self.between(start, end) if a.status == 200}

    def serving(self) -> str:
        """The version that answered the latest 200 ("" before any)."""
        with self._lock:
            answered = [a for a in self.answers if a.kind == "predict" and a.status == 200]
        return max(answered, key=lambda a: a.done).version if answered else ""

    def versions(self, start: float, end: float) -> dict[str, int]:
        """How many predictions each version answered, of those sent in ``[start, end)``."""
        counts = Counter(a.version for a in self.between(start, end) if a.status == 200)
        return dict(sorted(counts.items()))

    def wait_for_answers(self, count: int, after: float, timeout: float = 30.0) -> None:
        """Block until ``count`` predictions sent after ``after`` were answered 200."""
        deadline = time.monotonic() + timeout
        while len(self.answered_ids(after, float("inf"))) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} answers in {timeout:.0f}s")
            time.sleep(0.1)
