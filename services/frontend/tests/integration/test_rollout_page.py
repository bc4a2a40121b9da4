"""The Rollout page driven by Streamlit's AppTest against the real platform: version 1 of the
default model is staged beside production (v2), shadow records and feedback are written to the
platform's Redis as inference and the gateway write them, and the page shows both versions side
by side, the decision log, and turns shadowing off with the admin key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from streamlit.testing.v1 import AppTest

from mlops_common.redis_keys import FEEDBACK_HASH
from mlops_common.registry import ALIAS_STAGING, MODEL_NAME
from mlops_common.rollout import rollout_key, rollout_log_key
from mlops_common.shadow import ShadowRecord, encode_batch, shadow_stream
from mlops_frontend.launch import APP_PATH

from .contract.apptest_text import metric, texts

pytestmark = pytest.mark.slow

Platform = Any  # conftest.Platform


@pytest.fixture
def staged(platform: Platform) -> Iterator[redis.Redis]:
    """v1 staged as the candidate of production v2, with three shadowed requests (four rows,
    three labelled); everything is taken back after the test."""
    from mlflow import MlflowClient

    registry = MlflowClient(tracking_uri=platform.registry_uri, registry_uri=platform.registry_uri)
    registry.set_registered_model_alias(MODEL_NAME, ALIAS_STAGING, "1")
    run = uuid.uuid4().hex[:8]
    keys = (rollout_key(MODEL_NAME), rollout_log_key(MODEL_NAME))
    rows = (([1], [1]), ([2, 3], [2, 4]), ([5], [6]))
    with redis.Redis.from_url(platform.redis_url) as store:
        store.delete(*keys)  # the decisions earlier tests' promotions logged
        records = [
            ShadowRecord(
                request_id=f"{run}-{index}",
                production_version="2",
                candidate_version="1",
                production_labels=prod,
                production_confidences=[0.9] * len(prod),
                candidate_labels=cand,
                candidate_confidences=[0.6] * len(cand),
                production_ms=2.0,
                candidate_ms=3.0,
            )
            for index, (prod, cand) in enumerate(rows)
        ]
        store.xadd(shadow_stream(MODEL_NAME), encode_batch(records))
        store.hset(FEEDBACK_HASH, mapping={f"{run}-0": "1", f"{run}-1.0": "2", f"{run}-1.1": "4"})
        try:
            yield store
        finally:
            registry.delete_registered_model_alias(MODEL_NAME, ALIAS_STAGING)
            store.delete(*keys, shadow_stream(MODEL_NAME))


def test_rollout_page_compares_the_pair_and_turns_shadowing_off(
    monkeypatch: pytest.MonkeyPatch, platform: Platform, staged: redis.Redis
) -> None:
    monkeypatch.setenv("FRONTEND_GATEWAY_URL", platform.gateway_url)
    monkeypatch.setenv("FRONTEND_ADMIN_API_KEY", platform.admin_key)
    app = AppTest.from_file(str(APP_PATH), default_timeout=60).run()
    app.switch_page("views/rollout.py").run()
    assert not app.exception, app.exception
    assert not app.error, texts(app)
    assert metric(app, "Production") == "v2"
    assert metric(app, "Candidate") == "v1"
    assert metric(app, "Agreement") == "50.0%"
    assert metric(app, "Labelled rows") == "3 of 4"
    table = app.dataframe[0].value
    assert list(table.columns) == ["Production v2", "Candidate v1"]
    assert table.loc["Live accuracy", "Production v2"] == pytest.approx(2 / 3)
    assert table.loc["Live accuracy", "Candidate v1"] == pytest.approx(1.0)
    assert table.loc["Latency p50 (ms)", "Candidate v1"] == pytest.approx(3.0)
    assert "No decision yet." in texts(app)

    app.toggle[0].set_value(False)
    next(b for b in app.button if b.label == "Apply shadowing").click().run()
    assert not app.exception, app.exception
    assert f"Shadowing of `{MODEL_NAME}` is off." in texts(app)
    assert metric(app, "Shadowing") == "off"
    assert staged.hget(rollout_key(MODEL_NAME), "shadow") == b"off"
    log = app.dataframe[-1].value
    assert list(log["Action"]) == ["shadow"]
    assert list(log["By"]) == ["admin"]
