"""Single-flight lock and feedback rows against a real Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import redis
from celery import Celery

from mlops_common import retrain_lock
from mlops_common.digits_spec import digits_spec
from mlops_common.jobs import RETRAIN_LOCK_KEY, RETRAIN_QUEUE
from mlops_common.model_spec import parse_spec
from mlops_common.prediction_index import bucket_of, index_key
from mlops_common.redis_keys import FEEDBACK_HASH, TrafficEntry, traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.news import news_test_spec
from mlops_trainer.feedback import load_feedback, split_rows

STREAM = traffic_stream(MODEL_NAME)


@pytest.fixture
def celery_app(redis_url: str) -> Iterator[Celery]:
    app = Celery("test-sender", broker=redis_url, backend=redis_url, set_as_current=False)
    yield app
    app.close()


def _queued(db: redis.Redis) -> int:
    return int(db.llen(RETRAIN_QUEUE))


def test_second_request_gets_the_job_in_flight(db: redis.Redis, celery_app: Celery) -> None:
    first, queued = retrain_lock.submit_retrain(celery_app, db, "drift", ["seed=1"])
    assert queued
    second, queued_again = retrain_lock.submit_retrain(celery_app, db, "manual", [])
    assert (second, queued_again) == (first, False)
    assert _queued(db) == 1
    assert retrain_lock.holder(db) == first
    # The worker takes the lock for that id, renews it, then releases it.
    assert retrain_lock.acquire(db, first, ttl_s=5) is None
    assert retrain_lock.acquire(db, "other-job", ttl_s=5) == first
    assert retrain_lock.renew(db, first, ttl_s=5)
    assert not retrain_lock.release(db, "other-job")
    assert retrain_lock.release(db, first)
    third, queued = retrain_lock.submit_retrain(celery_app, db, "later", [])
    assert queued
    assert third != first
    assert _queued(db) == 2


def test_a_finished_holder_is_replaced(db: redis.Redis, celery_app: Celery) -> None:
    job_id, _ = retrain_lock.submit_retrain(celery_app, db, "drift")
    celery_app.backend.store_result(job_id, {"promoted": True}, "SUCCESS")  # died before release
    fresh, queued = retrain_lock.submit_retrain(celery_app, db, "again")
    assert queued
    assert fresh != job_id
    assert retrain_lock.holder(db) == fresh


def test_the_worker_lock_expires_without_renewal(db: redis.Redis) -> None:
    assert retrain_lock.acquire(db, "job-a", ttl_s=0.3) is None
    time.sleep(0.5)
    assert retrain_lock.holder(db) is None
    assert not retrain_lock.renew(db, "job-a", ttl_s=1)
    assert retrain_lock.acquire(db, "job-b", ttl_s=1) is None


def test_a_failed_send_releases_the_claim(db: redis.Redis) -> None:
    dead = Celery("dead", broker="redis://127.0.0.1:1/0", set_as_current=False)
    dead.conf.broker_connection_retry = False
    with pytest.raises(Exception):  # noqa: B017 - kombu's error type depends on the transport
        retrain_lock.submit_retrain(dead, db, "drift", retry=False)
    assert db.get(RETRAIN_LOCK_KEY) is None
    dead.close()


def _entry(features: np.ndarray, ts: float) -> TrafficEntry:
    return TrafficEntry(
        id=uuid.uuid4().hex,
        request_id=uuid.uuid4().hex,
        model_version="1",
        features=features.astype(np.float32),
        label=0,
        confidence=0.5,
        latency_ms=1.0,
        timestamp=ts,
    )


def test_feedback_rows_from_the_stream(db: redis.Redis) -> None:
    entries = [_entry(np.full(64, i % 17), ts=1000.0 + i) for i in range(30)]
    for i, entry in enumerate(entries):  # as the gateway logs them: stream and id index
        db.xadd(STREAM, entry.encode())  # type: ignore[arg-type]
        db.hset(index_key(bucket_of(entry.timestamp)), entry.id, "")
        if i < 25:
            db.hset(FEEDBACK_HASH, entry.id, str(i % 10))
    db.hset(FEEDBACK_HASH, "unknown-id", "3")  # not in this model's stream: not its label
    db.hset(FEEDBACK_HASH, entries[26].id, "12")  # not a class
    db.hset(FEEDBACK_HASH, entries[27].id, "seven")  # not a number

    rows, stats = load_feedback(db, max_rows=100, stream_scan=1000)
    assert len(rows) == 25
    by_id = {row.id: row for row in rows}
    for i, entry in enumerate(entries[:25]):
        assert by_id[entry.id].label == i % 10
        assert np.array_equal(by_id[entry.id].features, entry.features)
    assert (stats.labels, stats.used, stats.bad) == (27, 25, 2)

    newest, stats = load_feedback(db, max_rows=5, stream_scan=1000)
    assert [row.id for row in newest] == [e.id for e in reversed(entries[20:25])]
    assert (stats.labels, stats.used, stats.bad) == (27, 5, 2)
    three = digits_spec().model_dump(mode="json")
    three["output"]["classes"] = ["0", "1", "2"]
    few_classes, stats = load_feedback(db, max_rows=100, stream_scan=1000, spec=parse_spec(three))
    assert {row.label for row in few_classes} == {0, 1, 2}
    assert stats.bad == 2 + sum(1 for i in range(25) if i % 10 >= 3)
    db.delete(STREAM)  # trimmed away: the labels are nobody's any more
    trimmed, stats = load_feedback(db, max_rows=100, stream_scan=1000)
    assert trimmed == []
    assert (stats.labels, stats.used, stats.bad) == (0, 0, 0)


def test_each_model_reads_the_feedback_of_its_own_stream(db: redis.Redis) -> None:
    """Two models, two streams, one feedback hash: each model's rows are its own labels only."""
    other = "digits-shadow"
    mine = [_entry(np.full(64, 1.0), ts=2000.0 + i) for i in range(6)]
    theirs = [_entry(np.full(64, 2.0), ts=2000.0 + i) for i in range(4)]
    for entry in mine:
        db.xadd(STREAM, entry.encode())  # type: ignore[arg-type]
        db.hset(FEEDBACK_HASH, entry.id, "1")
    for entry in theirs:
        db.xadd(traffic_stream(other), entry.encode())  # type: ignore[arg-type]
        db.hset(FEEDBACK_HASH, entry.id, "2")

    rows, stats = load_feedback(db, max_rows=100, stream_scan=1000)
    assert {row.id for row in rows} == {e.id for e in mine}
    assert {row.label for row in rows} == {1}
    assert (stats.labels, stats.used, stats.bad) == (6, 6, 0)  # the other model's 4 not counted
    rows, stats = load_feedback(db, max_rows=100, stream_scan=1000, model=other)
    assert {row.id for row in rows} == {e.id for e in theirs}
    assert {row.label for row in rows} == {2}
    assert (stats.labels, stats.used, stats.bad) == (4, 4, 0)


def test_no_feedback_is_no_rows(db: redis.Redis) -> None:
    rows, stats = load_feedback(db, max_rows=100, stream_scan=1000)
    assert rows == []
    assert stats.used == 0


def test_a_text_models_rows_are_its_texts_and_unstored_texts_are_named(db: redis.Redis) -> None:
    """News feedback: each row is the entry's text; labels of entries logged without their text
    (GATEWAY_STORE_TEXT=false) are counted and explained, never trained on."""
    spec = news_test_spec()
    stream = traffic_stream(spec.name)
    logged = np.zeros(spec.logged_width or 0, np.float32)
    for i in range(6):
        text = None if i >= 4 else f"the football match number {i}"
        entry = TrafficEntry(
            f"n-{i}", "r", "1", logged, 3, 0.9, 1.0, timestamp=100.0 + i, text=text
        )
        db.xadd(stream, entry.encode())
        db.hset(FEEDBACK_HASH, entry.id, str(i % 5))
    rows, stats = load_feedback(db, max_rows=100, stream_scan=1000, model=spec.name, spec=spec)
    assert sorted(row.features for row in rows) == [
        f"the football match number {i}" for i in range(4)
    ]
    assert (stats.labels, stats.used, stats.bad, stats.no_text) == (6, 4, 2, 2)
    assert "GATEWAY_STORE_TEXT=false" in (stats.note() or "")
    extra = split_rows(rows, test_fraction=0.25, val_fraction=0.25, repeat=2)
    assert sum(extra.sizes.values()) >= 4
    assert all(
        isinstance(text, str) for part in (extra.train, extra.val, extra.test) for text in part[0]
    )
