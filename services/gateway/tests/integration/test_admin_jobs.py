"""Admin auth, ``POST /v1/retrain`` and ``GET /v1/jobs/{id}`` through a real Celery backend."""

from __future__ import annotations

import uuid

import httpx
import pytest
import redis
from celery import Celery

from mlops_common.jobs import RETRAIN_QUEUE, RETRAIN_TASK

from .conftest import ADMIN_KEY

ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [("post", "/v1/retrain", {}), ("post", "/v1/model/promote", {"version": "1"})],
)
def test_admin_routes_need_the_key(
    client: httpx.Client, method: str, path: str, payload: dict
) -> None:
    missing = client.request(method, path, json=payload)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = client.request(method, path, json=payload, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "forbidden"


def test_retrain_queues_the_task_by_name(client: httpx.Client, redis_url: str) -> None:
    response = client.post(
        "/v1/retrain", json={"reason": "test", "overrides": ["trainer.max_epochs=1"]}, headers=ADMIN
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    queued = redis.Redis.from_url(redis_url).lrange(RETRAIN_QUEUE, 0, -1)
    assert any(
        job_id.encode() in message and RETRAIN_TASK.encode() in message for message in queued
    )
    job = client.get(f"/v1/jobs/{job_id}")
    assert job.status_code == 200
    assert job.json() == {
        "job_id": job_id,
        "state": "PENDING",
        "progress": None,
        "result": None,
        "error": None,
    }


def test_retrain_without_a_body_uses_defaults(client: httpx.Client) -> None:
    assert client.post("/v1/retrain", headers=ADMIN).status_code == 202


def test_retrain_with_bad_overrides_is_422(client: httpx.Client) -> None:
    response = client.post("/v1/retrain", json={"overrides": "x=1"}, headers=ADMIN)
    assert response.status_code == 422


def test_job_progress_and_result_come_from_the_backend(
    client: httpx.Client, redis_url: str
) -> None:
    worker_side = Celery(broker=redis_url, backend=redis_url)
    job_id = client.post("/v1/retrain", headers=ADMIN).json()["job_id"]
    worker_side.backend.store_result(
        job_id, {"stage": "train", "epoch": 3, "progress": 0.6}, "PROGRESS"
    )
    running = client.get(f"/v1/jobs/{job_id}").json()
    assert running["state"] == "PROGRESS"
    assert running["progress"] == {"stage": "train", "epoch": 3, "progress": 0.6}
    worker_side.backend.store_result(job_id, {"version": "3", "promoted": True}, "SUCCESS")
    done = client.get(f"/v1/jobs/{job_id}").json()
    assert done["state"] == "SUCCESS"
    assert done["result"] == {"version": "3", "promoted": True}
    failed_id = str(uuid.uuid4())
    worker_side.backend.store_result(failed_id, ValueError("no data"), "FAILURE")
    failed = client.get(f"/v1/jobs/{failed_id}").json()
    assert failed["state"] == "FAILURE"
    assert "no data" in failed["error"]


def test_unknown_job_is_404(client: httpx.Client) -> None:
    response = client.get(f"/v1/jobs/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_broker_down_is_503(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    from mlops_common.testing.servers import free_port

    url = gateway_factory(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with httpx.Client(base_url=url, timeout=20) as http:
        response = http.post("/v1/retrain", headers=ADMIN)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "broker_unavailable"
        job = http.get(f"/v1/jobs/{uuid.uuid4()}")
        assert job.status_code == 503
