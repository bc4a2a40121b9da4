"""The fault suite's scenarios: each injects one fault into a running ``make up`` stack under
steady load (:class:`~_fault_load.FaultLoad`) and returns what it measured.

Shared by ``benchmarks/faults.py`` (the figures) and ``tests/e2e/test_faults.py`` (the same
scenarios, shorter, with the issue's bars as assertions).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from _fault_load import TIMEOUT, FaultLoad
from stack_control import RunningStack

from mlops_common.digits_spec import digits_spec
from mlops_common.redis_keys import FEEDBACK_HASH, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.onnx_models import register_onnx_model, write_broken_model
from mlops_common.testing.rollout_models import write_lookup_model


@dataclass
class FaultResult:
    """What one scenario measured (times in seconds from the fault unless named otherwise)."""

    scenario: str
    statuses: dict[str, int]
    feedback_statuses: dict[str, int] = field(default_factory=dict)
    first_error_ms: float | None = None  # the fault → the first non-200 answer
    outage_s: float | None = None  # the fault → the last non-200 answer
    back_after_restart_s: float | None = None  # the process running again → 200s again
    slowest_answer_s: float = 0.0
    timeouts: int = 0
    traffic_lost: int | None = None  # answered, neither in the stream nor counted as dropped
    traffic_dropped: int | None = None  # counted by gateway_traffic_dropped_total
    feedback_lost: int | None = None  # acknowledged (200), missing from Redis afterwards
    other_restarts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Prediction answers that were not 200."""
        return sum(n for status, n in self.statuses.items() if not status.startswith("200"))


@dataclass
class FaultContext:
    """What the scenarios share: the stack, its load, digits rows, a scratch folder."""

    stack: RunningStack
    load: FaultLoad
    rows: Any
    labels: Any
    workdir: Path
    settle_s: float = 3.0  # load kept running after recovery, before measuring

    @property
    def admin(self) -> dict[str, str]:
        """The admin key header."""
        return {"X-API-Key": self.stack.admin_key}

    def gateway(self) -> httpx.Client:
        """A client of the stack's gateway."""
        return httpx.Client(base_url=self.stack.url("GATEWAY_PORT"), timeout=30)

    def redis(self) -> redis.Redis:
        """A client of the stack's Redis."""
        return redis.Redis.from_url(self.stack.redis_url, socket_timeout=5)

    def metric(self, port: str, name: str) -> float:
        """The sum of a Prometheus metric's samples on ``port``'s /metrics (0 when absent)."""
        text = httpx.get(f"{self.stack.url(port)}/metrics", timeout=5).text
        pattern = rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$"
        return sum(float(v) for v in re.findall(pattern, text, flags=re.M))


def _until(check: Callable[[], Any], timeout: float, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout:.0f}s")
        time.sleep(every)
    return value


def _restarts(before: dict[str, int], after: dict[str, int], killed: str) -> dict[str, int]:
    return {
        n: c - before.get(n, 0) for n, c in after.items() if n != killed and c > before.get(n, 0)
    }


def _outage(ctx: FaultContext, result: FaultResult, fault_at: float, end: float) -> None:
    load = ctx.load
    result.statuses = load.statuses(fault_at, end)
    result.feedback_statuses = load.statuses(fault_at, end, "feedback")
    first, last = load.first_error(fault_at), load.last_error(fault_at)
    if first is not None and last is not None:
        result.first_error_ms = (first.done - fault_at) * 1000
        result.outage_s = last.done - fault_at
    result.slowest_answer_s = load.slowest_s(fault_at, end)
    result.timeouts = sum(1 for a in load.between(fault_at, end) if a.status == TIMEOUT)


def kill_and_restart(ctx: FaultContext, program: str) -> FaultResult:
    """SIGKILL ``program``; supervisord starts it again. Errors, outage, time back to 200s."""
    stack, load = ctx.stack, ctx.load
    load.wait_for_answers(20, time.monotonic() - 5)
    exits = stack.exits()
    pid = stack.kill(program)
    fault_at = time.monotonic()
    running_at = stack.wait_restarted(program, pid)
    _until(lambda: (ok := load.first_ok(running_at)) and ok.done > running_at, 90)
    last = load.last_error(fault_at)
    _until(lambda: time.monotonic() > (last.done if last else fault_at) + ctx.settle_s, 60)
    end = time.monotonic()
    result = FaultResult(f"SIGKILL {program}", {})
    _outage(ctx, result, fault_at, end)
    back = load.first_ok(last.sent) if last is not None else None  # no errors: nothing to recover
    if back is not None:
        result.back_after_restart_s = max(0.0, back.done - running_at)
    result.other_restarts = _restarts(exits, stack.exits(), program)
    result.notes.append(f"running again {running_at - fault_at:.1f} s after the kill")
    return result


def kill_redis(ctx: FaultContext) -> FaultResult:
    """SIGKILL Redis under load: predictions keep answering, feedback fails while it is down,
    what was acknowledged survives (AOF), traffic resumes; lost and dropped entries counted."""
    load, started = ctx.load, time.monotonic()
    load.wait_for_answers(20, started - 5)
    dropped_before = ctx.metric("GATEWAY_PORT", "gateway_traffic_dropped_total")
    result = kill_and_restart(ctx, "redis")
    result.scenario = "SIGKILL redis"
    _until(lambda: ctx.redis().ping(), 30)
    time.sleep(1.0)  # the gateway's traffic buffer flushes every 50 ms; give it a few rounds
    end = time.monotonic()
    acknowledged = load.acknowledged_feedback(started, end)
    with ctx.redis() as db:
        stored = db.hmget(FEEDBACK_HASH, list(acknowledged)) if acknowledged else []
        result.feedback_lost = sum(1 for value in stored if value is None)
        logged = {
            fields[b"id"].decode()
            for _id, fields in db.xrange(traffic_stream(MODEL_NAME), count=200_000)
        }
    answered = load.answered_ids(started, end - 1.0)
    dropped = ctx.metric("GATEWAY_PORT", "gateway_traffic_dropped_total") - dropped_before
    result.traffic_dropped = int(dropped)
    result.traffic_lost = max(0, len(answered - logged) - int(dropped))
    result.notes.append(
        f"{len(acknowledged)} feedback labels acknowledged, {len(answered)} answers"
    )
    return result


def kill_drift(ctx: FaultContext) -> FaultResult:
    """SIGKILL drift: it resumes from its consumer group, its window refilled from what the group
    had delivered; nothing left pending or unread."""
    before = ctx.metric("DRIFT_PORT", "drift_window_size")
    result = kill_and_restart(ctx, "drift")
    stream = traffic_stream(MODEL_NAME)

    def refilled() -> float:
        try:
            return ctx.metric("DRIFT_PORT", "drift_window_size")
        except httpx.HTTPError:
            return 0.0

    try:
        after = _until(refilled, 30, every=0.2)
        result.notes.append(f"window: {before:.0f} rows before the kill, {after:.0f} after")
    except TimeoutError:
        result.notes.append(f"window: {before:.0f} rows before the kill, EMPTY after")

    def caught_up() -> bool:
        with ctx.redis() as db:
            group = next(g for g in db.xinfo_groups(stream) if g["name"] in (b"drift", "drift"))
            return int(group["pending"]) == 0 and int(group.get("lag") or 0) == 0

    try:
        _until(caught_up, 60, every=0.5)
        result.notes.append("consumer group caught up: 0 pending, 0 lag")
    except TimeoutError:
        with ctx.redis() as db:
            result.notes.append(f"NOT caught up: {db.xinfo_groups(stream)}")
    return result


def _register(ctx: FaultContext, path: Path) -> str:
    tracking = ctx.stack.url("MLFLOW_PORT")
    return register_onnx_model(tracking, path, spec=json.loads(digits_spec(MODEL_NAME).to_json()))


def _serving(ctx: FaultContext) -> str:
    """The version that answered the load's latest prediction."""
    ctx.load.wait_for_answers(1, time.monotonic() - 2)
    return ctx.load.serving()


def _promote(ctx: FaultContext, version: str) -> httpx.Response:
    with ctx.gateway() as client:
        return client.post(
            f"/v1/models/{MODEL_NAME}/promote", json={"version": version}, headers=ctx.admin
        )


def hot_swap(ctx: FaultContext) -> FaultResult:
    """Promote another valid version under load: every request answered."""
    before = _serving(ctx)
    version = _register(ctx, write_lookup_model(ctx.workdir / "swap.onnx", ctx.rows, ctx.labels))
    fault_at = time.monotonic()
    promoted = _promote(ctx, version)
    result = FaultResult("hot swap under load", {})
    if promoted.status_code != 200:
        result.notes.append(f"promotion answered {promoted.status_code}: {promoted.text[:200]}")
    _until(lambda: ctx.load.serving() == version, 60, every=0.2)
    swapped = time.monotonic()
    time.sleep(ctx.settle_s)
    end = time.monotonic()
    _outage(ctx, result, fault_at, end)
    result.notes.append(
        f"v{before} → v{version} answering {swapped - fault_at:.1f} s after the promotion; "
        f"answers by version {ctx.load.versions(fault_at, end)}"
    )
    return result


def corrupt_promotion(ctx: FaultContext) -> FaultResult:
    """Promote a version whose ONNX file is garbage: the serving version keeps answering."""
    before = _serving(ctx)
    version = _register(ctx, write_broken_model(ctx.workdir / "broken.onnx"))
    fault_at = time.monotonic()
    promoted = _promote(ctx, version)
    time.sleep(max(ctx.settle_s, 8.0))  # inference polls the alias, tries, refuses, keeps serving
    end = time.monotonic()
    result = FaultResult("corrupt model promoted", {})
    _outage(ctx, result, fault_at, end)
    result.notes.append(
        f"promotion answered {promoted.status_code}; answers by version "
        f"{ctx.load.versions(fault_at, end)} (was v{before}, broken v{version})"
    )
    back = _promote(ctx, before)  # leave the stack as it was
    if back.status_code != 200:
        result.notes.append(f"restoring v{before} answered {back.status_code}")
    return result


def mlflow_down(ctx: FaultContext, down_s: float = 5.0) -> FaultResult:
    """SIGKILL MLflow (the server and its uvicorn workers) and keep it down ``down_s``
    (supervisorctl stop), then start it again: serving, traffic and feedback go on; a promotion
    meanwhile answers 503 with a message."""
    stack, load = ctx.stack, ctx.load
    load.wait_for_answers(20, time.monotonic() - 5)
    version = load.serving()
    exits = stack.exits()
    stack.kill("mlflow", group=True)
    fault_at = time.monotonic()
    stack.ctl("stop", "mlflow")  # supervisord would start it again at once: keep it down
    time.sleep(1.0)
    promotion = _promote(ctx, version)
    time.sleep(max(0.0, down_s - (time.monotonic() - fault_at)))
    stack.ctl("start", "mlflow")
    running_at = time.monotonic()
    time.sleep(ctx.settle_s)
    result = FaultResult(f"mlflow down {down_s:.0f} s", {})
    _outage(ctx, result, fault_at, time.monotonic())
    try:
        message = promotion.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = promotion.text[:120]
    result.notes.append(f"promotion while down: {promotion.status_code} ({message[:160]})")
    _until(lambda: _promote(ctx, version).status_code == 200, 90, every=0.5)
    result.notes.append(
        f"promotions answer 200 again {time.monotonic() - running_at:.1f} s after MLflow was "
        "started again"
    )
    result.other_restarts = _restarts(exits, stack.exits(), "mlflow")
    return result


def redis_out_of_memory(ctx: FaultContext, hold_s: float = 3.0) -> FaultResult:
    """``maxmemory`` set below what Redis holds (noeviction): writes fail for ``hold_s``."""
    load = ctx.load
    load.wait_for_answers(20, time.monotonic() - 5)
    dropped_before = ctx.metric("GATEWAY_PORT", "gateway_traffic_dropped_total")
    with ctx.redis() as db:
        db.config_set("maxmemory-policy", "noeviction")
        db.config_set("maxmemory", "1mb")
        fault_at = time.monotonic()
        time.sleep(hold_s)
        db.config_set("maxmemory", "0")
    restored = time.monotonic()
    time.sleep(ctx.settle_s)
    result = FaultResult("redis out of memory", {})
    _outage(ctx, result, fault_at, time.monotonic())
    dropped = ctx.metric("GATEWAY_PORT", "gateway_traffic_dropped_total") - dropped_before
    result.traffic_dropped = int(dropped)
    ok_after = load.first_ok(restored, "feedback")
    if ok_after is not None:
        result.back_after_restart_s = ok_after.done - restored
    result.notes.append(f"maxmemory 1mb for {hold_s:.0f} s, then unlimited again")
    return result
