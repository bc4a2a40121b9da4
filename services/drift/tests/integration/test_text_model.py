"""A text model watched beside a numeric one over real HTTP, Redis and MLflow: its traffic entries
log its graph's outputs (and the text), its windows become frames of those columns, and shifted
texts drift it alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis

from mlops_common.news_spec import NEWS_MODEL_NAME
from mlops_common.redis_keys import DRIFT_CONSUMER_GROUP, traffic_stream
from mlops_drift.app import create_app

NEWS = NEWS_MODEL_NAME


def write_reference(frame: Any, folder: Path) -> Path:
    path = folder / "reference" / "features.csv"
    path.parent.mkdir(parents=True)
    frame.to_csv(path, index=False)
    return path


async def consumed(http: httpx.AsyncClient, helpers: Any, rows: int, model: str) -> bool:
    text = (await http.get("/metrics")).text
    return helpers.metric(text, "drift_traffic_entries_total", helpers.of(model)) == rows


@pytest.mark.slow
async def test_a_text_model_drifts_on_shifted_texts_beside_a_numeric_model(  # type: ignore[no-untyped-def]
    redis_url: str,
    redis_db: redis.Redis,
    mlflow_store: Any,
    tmp_path: Path,
    unused_port: int,
    news,
    flowers,
    specs,
    helpers,
) -> None:
    uri = mlflow_store.tracking_uri
    helpers.register_model(
        uri,
        news.model,
        name=NEWS,
        spec=news.scorer.spec.model_dump(exclude_none=True),
        reference_csv=write_reference(news.reference, tmp_path / "news"),
    )
    flowers_name = specs.flowers_name
    helpers.register_model(
        uri,
        helpers.write_iris_model(tmp_path / "flowers.onnx"),
        name=flowers_name,
        spec=specs.flowers(),
        reference_csv=write_reference(flowers.reference, tmp_path / "flowers"),
    )
    settings = helpers.settings_for(
        redis_url,
        mlflow_store,
        unused_port,
        models=f"{flowers_name},{NEWS}",
        window_size=200,
        min_window_size=200,
    )
    async with (
        helpers.serve(create_app(settings), unused_port) as url,
        httpx.AsyncClient(base_url=url, timeout=120, headers=helpers.ADMIN) as http,
    ):
        await helpers.wait_for(lambda: helpers.reference_is(http, "1", NEWS))
        await helpers.wait_for(lambda: helpers.reference_is(http, "1", flowers_name))
        listed = {m["name"]: m for m in (await http.get("/v1/drift/models")).json()["models"]}
        assert listed[NEWS]["columns"] == news.scorer.spec.monitored_names

        texts, _ = news.texts(200, seed=21)
        clean = news.entries(texts)
        wrong_width = news.entries(texts[:1])[0]
        helpers.add_traffic(redis_db, [*clean, _widened(wrong_width)], model=NEWS)
        helpers.add_traffic(redis_db, flowers.entries(flowers.pool[:200]), model=flowers_name)
        await helpers.wait_for(lambda: consumed(http, helpers, 200, NEWS))
        await helpers.wait_for(lambda: helpers.window_has(http, 200, flowers_name))

        steady = (await http.post("/v1/drift/check", params={"model": NEWS})).json()
        assert steady["model"] == NEWS
        assert steady["drift_detected"] is False, steady["reasons"]
        assert steady["window_size"] == 200
        assert list(steady["feature_scores"]) == [
            *(f"embedding_{i}" for i in range(5)),
            "n_tokens",
            "oov_share",
        ]
        text = (await http.get("/metrics")).text
        assert helpers.metric(text, "drift_traffic_malformed_total", helpers.of(NEWS)) == 1
        assert redis_db.xpending(traffic_stream(NEWS), DRIFT_CONSUMER_GROUP)["pending"] == 0

        # unknown words: every token out of the vocabulary
        helpers.add_traffic(redis_db, news.entries(news.unknown(200, seed=22)), model=NEWS)
        await helpers.wait_for(lambda: consumed(http, helpers, 400, NEWS))
        oov = (await http.post("/v1/drift/check", params={"model": NEWS})).json()
        assert oov["drift_detected"] is True
        assert "oov_share" in oov["drifted_features"]
        assert oov["retrain_job_id"] is not None  # the news spec is trainable
        ((_task, kwargs),) = helpers.queued_tasks(redis_db)
        assert kwargs["model"] == NEWS
        report = await http.get("/v1/drift/report", params={"model": NEWS})
        assert report.status_code == 200
        assert "oov_share" in report.text

        # one class only: the predicted labels drift
        texts, _ = news.texts(200, seed=23, classes=("sports",))
        helpers.add_traffic(redis_db, news.entries(texts), model=NEWS)
        await helpers.wait_for(lambda: consumed(http, helpers, 600, NEWS))
        prior = (await http.post("/v1/drift/check", params={"model": NEWS})).json()
        assert prior["drift_detected"] is True
        assert any("predicted-label" in reason for reason in prior["reasons"])

        # the numeric model beside it is untouched
        numeric = (await http.post("/v1/drift/check", params={"model": flowers_name})).json()
        assert numeric["drift_detected"] is False
        assert list(numeric["feature_scores"]) == list(specs.flower_columns)
        text = (await http.get("/metrics")).text
        assert helpers.metric(text, "drift_dataset_drift", helpers.of(NEWS)) == 1
        assert helpers.metric(text, "drift_dataset_drift", helpers.of(flowers_name)) == 0


def test_the_news_suite_reads_a_registered_model(  # type: ignore[no-untyped-def]
    mlflow_store: Any, tmp_path: Path, news, helpers
) -> None:
    """benchmarks/news_drift_detection.py ``--model``: the production version's ONNX file, spec
    and reference, downloaded together."""
    from news_drift_detection import from_registry

    helpers.register_model(
        mlflow_store.tracking_uri,
        news.model,
        name=NEWS,
        spec=news.scorer.spec.model_dump(exclude_none=True),
        reference_csv=write_reference(news.reference, tmp_path),
    )
    model, spec, reference = from_registry(
        mlflow_store.tracking_uri, NEWS, "production", tmp_path / "download"
    )
    assert model.suffix == ".onnx"
    assert spec == news.scorer.spec
    assert reference.read_text().splitlines()[0].split(",")[-1] == "label"


def _widened(entry: Any) -> Any:
    """``entry`` logging a digits-sized row: not the news spec's width, so refused."""
    import dataclasses

    return dataclasses.replace(entry, features=np.zeros(64, dtype=np.float32))
