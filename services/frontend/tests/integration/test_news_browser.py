"""The News page in headless Chromium against the real platform, the news model beside digits.

A real inference server serves the digits file and ``news-classifier`` (the small ONNX news model
of ``mlops_common.testing.news``, registered with its spec and the ``production`` alias in a real
MLflow store); a real gateway (the suite's private Redis) sits in front, and the frontend process
talks to it. In Chromium: pick the news model, paste an article, Classify, see ``sports`` and
each class's probability as the gateway computes them, send the feedback ``sports``, and find it
in Redis's ``feedback`` hash. The screenshot goes to ``test-artifacts/frontend/frontend-news.png``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from mlops_common.news_spec import NEWS_MODEL_NAME
from mlops_common.redis_keys import FEEDBACK_HASH
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.news import CLASSES, news_test_spec, write_news_model
from mlops_common.testing.onnx_models import register_onnx_model

from .contract.chromium import launch_chromium, pick, screenshot, serve_frontend, settle

pytestmark = pytest.mark.slow

NEWS = NEWS_MODEL_NAME
ARTICLE = "The football match ended with a late goal"
Platform = Any  # conftest.Platform (conftest modules are not importable by name)


@pytest.fixture(scope="module")
def news_inference(
    loop: Any, model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(inference target, MLflow URI): digits (a file) and news (registered, in production)."""
    from mlops_inference.server import InferenceServer
    from mlops_inference.settings import InferenceSettings

    root = tmp_path_factory.mktemp("news")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    news_path = write_news_model(root / "news.onnx")
    register_onnx_model(
        uri, news_path, name=NEWS, spec=json.loads(news_test_spec().to_json()), alias="production"
    )
    settings = InferenceSettings(
        models=f"{MODEL_NAME}={model_path},{NEWS}",
        mlflow_tracking_uri=uri,
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        watch_redis=False,
        max_batch_wait_ms=0.5,
    )

    async def start() -> InferenceServer:
        server = await InferenceServer.create(settings)
        await server.start()
        return server

    server = loop.run(start())
    yield f"127.0.0.1:{server.port}", uri
    loop.run(server.stop(grace=0))
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def news_gateway(gateway_factory: Any, news_inference: tuple[str, str]) -> str:
    """A real gateway in front of :func:`news_inference`, once it lists the news model ready."""
    target, uri = news_inference
    url: str = gateway_factory(
        inference_target=target, mlflow_tracking_uri=uri, catalog_refresh_s=0.2
    )
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, timeout=10) as http:
        while True:
            models = {m["name"]: m for m in http.get("/v1/models").json()["models"]}
            if models.get(NEWS, {}).get("ready") and models.get(MODEL_NAME, {}).get("ready"):
                return url
            assert time.monotonic() < deadline, f"the news model never got ready: {models}"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def frontend_url(news_gateway: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The frontend process, talking to :func:`news_gateway`."""
    log = tmp_path_factory.mktemp("frontend-news") / "streamlit.log"
    with serve_frontend(news_gateway, log) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium."""
    with launch_chromium() as instance:
        yield instance


def test_the_news_page_classifies_an_article_and_sends_feedback_in_chromium(
    browser: Any, frontend_url: str, news_gateway: str, redis_url: str
) -> None:
    with httpx.Client(base_url=news_gateway, timeout=10) as http:
        direct = http.post(f"/v1/models/{NEWS}/predict", json={"texts": [ARTICLE]})
    assert direct.status_code == 200, direct.text
    expected = direct.json()["predictions"][0]
    assert expected["label"] == "sports"

    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    try:
        page.goto(frontend_url)
        settle(page, "Predict a digit")  # the default model first
        pick(page, NEWS)
        settle(page, "Paste or type an article")
        assert page.get_by_role("heading", name="News").count()
        assert f"{NEWS} classifies news articles into one of" in page.inner_text("body")

        article = page.get_by_role("textbox", name="Article")
        article.fill(ARTICLE)
        article.press("Control+Enter")  # Streamlit takes a text area's value on Ctrl+Enter
        settle(page, f"{len(ARTICLE)} / 20,000 characters")
        page.get_by_role("button", name="Classify").click()
        for expected_text in ("Predicted class", "Confidence", "Was it right?"):
            settle(page, expected_text)  # a rerun's elements are drawn one by one
        page.wait_for_selector(  # the probability chart is drawn (a canvas or an SVG)
            "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg",
            timeout=30_000,
        )
        body = page.inner_text("body")
        assert "Traceback" not in body
        assert "Predicted class\n\nsports" in body
        assert f"{expected['confidence']:.1%}" in body

        rows = page.locator("[data-testid='stTable'] table").first.evaluate(
            "t => [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim()))"
        )
        assert rows[0] == ["Class", "Probability"]
        shown = dict(rows[1:])
        assert shown == {
            name: f"{p:.1%}" for name, p in zip(CLASSES, expected["probabilities"], strict=True)
        }
        assert next(iter(shown)) == "sports", "the likeliest class first"
        screenshot(page, "frontend-news.png")

        caption = page.get_by_text("Prediction id").first.inner_text()
        prediction_id = caption.split("Prediction id ")[1].split(" ")[0]
        page.get_by_role("button", name="Send feedback").click()  # the predicted class: sports
        settle(page, "recorded (confirmed)")
        assert f"class sports recorded (confirmed) for prediction {prediction_id}" in (
            page.inner_text("body")
        )
    except Exception:
        screenshot(page, "frontend-news-failed.png")
        raise
    finally:
        context.close()

    with redis.Redis.from_url(redis_url) as store:
        assert store.hget(FEEDBACK_HASH, prediction_id) == str(CLASSES.index("sports")).encode()
