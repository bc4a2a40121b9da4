"""The news loop against the stack started the way ``make up`` starts it, digits served beside.

The stack starts over a registry that holds both built-in models. Clean news traffic, then a
shift (a feed whose texts are garbled: 15 % of the letters replaced, as OCR or a broken encoder
leaves them) with true labels as feedback → drift on ``news-classifier`` → one retraining job of
that model → a new news version promoted and served; ``digits-classifier`` keeps its version and
gets no retraining; background load on both models sees no failed request.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from sklearn.datasets import load_digits

from mlops_common.news_spec import NEWS_MODEL_NAME
from mlops_common.redis_keys import traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_trainer.news_data import load_text_split

from .test_loop import STACK_ENV, BackgroundLoad, poll

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900)]

NEWS = f"/v1/models/{NEWS_MODEL_NAME}"
NEWS_ENV = {**STACK_ENV, "TRAINER_RETRAIN_OVERRIDES": ""}


def garbled(text: str, rng: random.Random, rate: float = 0.15) -> str:
    """``text`` with each letter replaced by a random one with probability ``rate``."""
    return "".join(
        rng.choice(string.ascii_lowercase) if c.isalpha() and rng.random() < rate else c
        for c in text
    )


def test_the_news_loop_closes_beside_digits(
    tmp_path: Path, seeded_stack: Callable[..., Any]
) -> None:
    split, manifest = load_text_split("bbc", seed=42, val_fraction=0.1, test_fraction=0.2)
    clean = split.x_test.tolist()
    rng = random.Random(0)
    shifted = [garbled(text, rng) for text in split.x_train[:400].tolist()]
    shifted_labels = [manifest.classes[label] for label in split.y_train[:400]]
    digits = load_digits().data.astype(np.float32)[:200]

    with seeded_stack(tmp_path / "state", NEWS_ENV) as stack:
        stack.wait_for_line(r"first prediction ([\d.]+)s after start", timeout=600)
        gateway = stack.url("GATEWAY_PORT")
        store = redis.Redis.from_url(stack.redis_url)
        news_bodies = [{"texts": [text]} for text in clean[:100]]
        with httpx.Client(base_url=gateway, timeout=30) as client:
            # The stack waits for the default model; news may still be loading beside it.
            def both_ready() -> dict[str, Any] | None:
                models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
                ready = all(models.get(m, {}).get("ready") for m in (MODEL_NAME, NEWS_MODEL_NAME))
                return models if ready else None

            models = poll("both models ready", both_ready, 120)
            assert models[NEWS_MODEL_NAME]["spec"]["input"]["kind"] == "text"
        with (
            httpx.Client(base_url=gateway, timeout=30) as client,
            BackgroundLoad(gateway, digits) as digits_load,
            BackgroundLoad(gateway, bodies=news_bodies, path=f"{NEWS}/predict") as news_load,
        ):
            digits_version = client.post("/v1/predict", json={"instances": [digits[0].tolist()]})
            digits_version = digits_version.json()["model"]["version"]

            # clean news traffic: answered with class names, logged with its text
            answer = client.post(f"{NEWS}/predict", json={"texts": clean[:20]})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            first_version = body["model"]["version"]
            right = sum(
                p["label"] == manifest.classes[label]
                for p, label in zip(body["predictions"], split.y_test[:20], strict=True)
            )
            assert right >= 18, body["predictions"][:3]
            for start in range(20, len(clean), 50):
                sent = client.post(f"{NEWS}/predict", json={"texts": clean[start : start + 50]})
                assert sent.status_code == 200, sent.text
            stream = traffic_stream(NEWS_MODEL_NAME)
            poll("news traffic logged", lambda: store.xlen(stream) >= len(clean), 30)

            # the shift: garbled texts, each labelled by feedback (class names)
            onset = time.monotonic()
            for start in range(0, len(shifted), 25):
                texts = shifted[start : start + 25]
                response = client.post(f"{NEWS}/predict", json={"texts": texts})
                assert response.status_code == 200, response.text
                for prediction, label in zip(
                    response.json()["predictions"], shifted_labels[start : start + 25], strict=True
                ):
                    ok = client.post("/v1/feedback", json={"id": prediction["id"], "label": label})
                    assert ok.status_code == 200, ok.text

            def drifted() -> dict[str, Any] | None:
                verdict = client.get(f"{NEWS}/drift")
                found = verdict.json() if verdict.status_code == 200 else {}
                return found if found.get("drift_detected") else None

            verdict = poll("news drift detected", drifted, timeout=180, every=2)
            print(f"\nnews drift after {time.monotonic() - onset:.1f} s: {verdict['reasons']}")

            def served_version() -> str | None:
                response = client.post(f"{NEWS}/predict", json={"texts": [shifted[0]]})
                assert response.status_code == 200, response.text
                version = response.json()["model"]["version"]
                return version if version != first_version else None

            new_version = poll("new news version served", served_version, timeout=420, every=2)
            loop_s = time.monotonic() - onset
            print(f"drift onset → news version {new_version} serving: {loop_s:.1f} s")

            # digits untouched: same version, no retraining queued for it
            still = client.post("/v1/predict", json={"instances": [digits[0].tolist()]})
            assert still.json()["model"]["version"] == digits_version
            metrics = httpx.get(stack.url("DRIFT_PORT") + "/metrics").text
            assert f'drift_retrains_queued_total{{model="{NEWS_MODEL_NAME}"}} 1.0' in metrics
            assert f'drift_retrains_queued_total{{model="{MODEL_NAME}"}} 1.0' not in metrics

        for load in (digits_load, news_load):
            assert load.ok > 0
            assert load.failures == [], load.failures[:5]
        print(f"background load: {digits_load.ok} digits, {news_load.ok} news, 0 failures")
