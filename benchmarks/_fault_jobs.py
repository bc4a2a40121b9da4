"""The fault suite's retraining scenario: the worker's job process killed mid-job.

A retrain of the digits model is queued through the gateway's admin API; once it runs, the
worker's pool process (the one training) gets SIGKILL. Celery's worker sees the job's process
lost and, the task being ``acks_late`` and ``reject_on_worker_lost``, puts the job back on the
queue; a new pool process runs it to the end. The scenario counts how often the job was
received and how many versions it registered (one: none half-registered), and the time to the
job's end.
"""

from __future__ import annotations

import os
import re
import signal
import time

import psutil
from _fault_scenarios import FaultContext, FaultResult, _outage, _until
from mlflow import MlflowClient

from mlops_common.registry import MODEL_NAME

FINISHED = {"SUCCESS", "FAILURE", "REVOKED"}


def _job_state(ctx: FaultContext, job_id: str) -> dict[str, object]:
    with ctx.gateway() as client:
        return dict(client.get(f"/v1/jobs/{job_id}").json())


def _training_process(ctx: FaultContext) -> psutil.Process | None:
    """The worker's pool process (the main process's child that runs jobs)."""
    main = ctx.stack.pid("worker")
    if not main:
        return None
    children = psutil.Process(main).children()
    return children[0] if children else None


def worker_killed_mid_job(ctx: FaultContext, timeout_s: float = 600.0) -> FaultResult:
    """SIGKILL the process running a retraining job; the job is redelivered and finishes."""
    tracking = ctx.stack.url("MLFLOW_PORT")
    registry = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    versions_before = {v.version for v in registry.search_model_versions(f"name='{MODEL_NAME}'")}
    with ctx.gateway() as client:
        queued = client.post(f"/v1/models/{MODEL_NAME}/retrain", headers=ctx.admin, json={})
    result = FaultResult("SIGKILL worker mid-job", {})
    if queued.status_code != 202:
        result.notes.append(f"retrain answered {queued.status_code}: {queued.text[:200]}")
        return result
    job_id = str(queued.json()["job_id"])
    _until(lambda: _job_state(ctx, job_id)["state"] in {"STARTED", "PROGRESS"}, 120, every=0.3)
    time.sleep(2.0)  # well into training
    process = _until(lambda: _training_process(ctx), 30)
    fault_at = time.monotonic()
    os.kill(process.pid, signal.SIGKILL)
    state = _until(
        lambda: (s := _job_state(ctx, job_id))["state"] in FINISHED and s, timeout_s, every=1.0
    )
    finished = time.monotonic()
    _outage(ctx, result, fault_at, finished)
    log = (ctx.stack.state_dir / "logs" / "worker.log").read_text(errors="replace")
    received = len(re.findall(rf"Task \S+\[{re.escape(job_id)}\] received", log))
    versions_after = {v.version for v in registry.search_model_versions(f"name='{MODEL_NAME}'")}
    new = sorted(versions_after - versions_before, key=int)
    runs = [registry.get_model_version(MODEL_NAME, v).run_id or "" for v in new]
    complete = [run for run in runs if run and registry.list_artifacts(run)]
    outcome = (state.get("result") or {}) if isinstance(state, dict) else {}
    result.notes.append(
        f"job {state['state']} {finished - fault_at:.0f} s after the kill; received "
        f"{received}× (1 + the redelivery); new versions {new} "
        f"({len(complete)} with their artifacts); "
        f"promoted: {outcome.get('promoted') if isinstance(outcome, dict) else '?'}"
    )
    return result
