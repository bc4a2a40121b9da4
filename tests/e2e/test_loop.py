"""The whole loop against the stack started the way ``make up`` starts it.

predict → traffic in Redis → feedback → shifted traffic → drift verdict → one retrain job → new
version promoted → inference serves it, with a light concurrent load throughout that must see no
failed request, and a real Prometheus scraping the stack.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import httpx
import numpy as np
import pytest
import redis
from sklearn.datasets import load_digits

from mlops_common.redis_keys import traffic_stream
from mlops_common.registry import MODEL_NAME

STREAM = traffic_stream(MODEL_NAME)

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900)]

STACK_ENV = {
    "LOG_LEVEL": "WARNING",
    # a quick loop: frequent drift checks, registry polling, a short retraining job
    "DRIFT_CHECK_INTERVAL_S": "3",
    "DRIFT_MIN_WINDOW_SIZE": "200",
    "DRIFT_MIN_NEW_ROWS": "50",
    "DRIFT_RETRAIN_COOLDOWN_S": "600",
    "INFERENCE_POLL_INTERVAL_S": "5",
    "TRAINER_RETRAIN_OVERRIDES": "trainer=fast",
}


class BackgroundLoad:
    """A light, steady stream of single predictions from another thread; counts failures.

    ``bodies`` are the JSON bodies sent in turn to ``path`` (digits rows by default).
    """

    def __init__(
        self,
        base_url: str,
        instances: np.ndarray | None = None,
        rate_per_s: float = 5.0,
        *,
        bodies: list[dict[str, Any]] | None = None,
        path: str = "/v1/predict",
    ) -> None:
        self.base_url = base_url
        rows = [] if instances is None else instances
        self.bodies = bodies or [{"instances": [row.tolist()]} for row in rows]
        self.path = path
        self.period = 1.0 / rate_per_s
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            i = 0
            while not self._stop.is_set():
                try:
                    response = client.post(self.path, json=self.bodies[i % len(self.bodies)])
                    if response.status_code == 200:
                        self.ok += 1
                        self.answered(client, i % len(self.bodies), response.json())
                    else:
                        self.failures.append(f"{response.status_code} {response.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                i += 1
                self._stop.wait(self.period)

    def answered(self, client: httpx.Client, index: int, body: dict[str, Any]) -> None:
        """Called with each 200 answer (``index``: which body was sent); nothing by default."""

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def poll(what: str, check: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    """Call ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached after {timeout:.0f}s")
        time.sleep(every)


def chunks(array: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(array), size):
        yield array[start : start + size]


def test_the_loop_closes(
    tmp_path: Path, local_stack: Callable[..., Any], prometheus: Callable[..., Any]
) -> None:
    digits = load_digits()
    features = digits.data.astype(np.float32)
    labels = digits.target.astype(int)
    clean, shifted, shifted_labels = features[:400], 16.0 - features[400:900], labels[400:900]

    with local_stack(tmp_path / "state", STACK_ENV) as stack:
        match = stack.wait_for_line(r"first prediction ([\d.]+)s after start", timeout=480)
        print(f"\nmake up → first answered prediction: {float(match.group(1)):.1f} s")
        gateway = stack.url("GATEWAY_PORT")
        store = redis.Redis.from_url(stack.redis_url)
        with (
            prometheus(stack, tmp_path) as prom,
            httpx.Client(base_url=gateway, timeout=30) as client,
            BackgroundLoad(gateway, clean) as load,
        ):
            # predict → traffic in Redis
            before = store.xlen(STREAM)
            answer = client.post("/v1/predict", json={"instances": clean[:20].tolist()})
            assert answer.status_code == 200, answer.text
            first_version = answer.json()["model"]["version"]
            poll("traffic logged", lambda: store.xlen(STREAM) >= before + 20, 30)

            # feedback on a known prediction; an unknown id is refused
            prediction_id = answer.json()["predictions"][0]["id"]
            ok = client.post("/v1/feedback", json={"id": prediction_id, "label": int(labels[0])})
            assert ok.status_code == 200, ok.text
            unknown = client.post("/v1/feedback", json={"id": "no-such-id", "label": 1})
            assert unknown.status_code == 404

            # clean traffic first, then the shift (inverted intensities) with true labels
            for batch in chunks(clean[20:], 50):
                assert client.post("/v1/predict", json={"instances": batch.tolist()}).is_success
            onset = time.monotonic()
            for batch, truth in zip(chunks(shifted, 25), chunks(shifted_labels, 25), strict=True):
                response = client.post("/v1/predict", json={"instances": batch.tolist()})
                assert response.status_code == 200, response.text
                for prediction, label in zip(response.json()["predictions"], truth, strict=True):
                    sent = client.post(
                        "/v1/feedback", json={"id": prediction["id"], "label": int(label)}
                    )
                    assert sent.status_code == 200, sent.text

            # drift verdict
            def drifted() -> dict[str, Any] | None:
                verdict = client.get("/v1/drift")
                body = verdict.json() if verdict.status_code == 200 else {}
                return body if body.get("drift_detected") else None

            verdict = poll("drift detected", drifted, timeout=180, every=2)
            print(f"drift verdict after {time.monotonic() - onset:.1f} s: {verdict['reasons']}")

            # the retrain job promotes a new version and inference serves it
            def served_version() -> str | None:
                response = client.post("/v1/predict", json={"instances": [shifted[0].tolist()]})
                assert response.status_code == 200, response.text
                version = response.json()["model"]["version"]
                return version if version != first_version else None

            new_version = poll("new version served", served_version, timeout=400, every=2)
            loop_s = time.monotonic() - onset
            print(f"drift onset → version {new_version} serving: {loop_s:.1f} s")
            model = client.get("/v1/model").json()
            assert model["version"] == new_version

            # exactly one retraining was queued for this drift
            drift_metrics = httpx.get(stack.url("DRIFT_PORT") + "/metrics").text
            assert 'drift_retrains_queued_total{model="digits-classifier"} 1.0' in drift_metrics

            # Prometheus scraped the gateway's request counter
            def scraped() -> float:
                result = prom.query("sum(gateway_requests_total)")
                return float(result[0]["value"][1]) if result else 0.0

            assert poll("prometheus has gateway_requests_total", scraped, timeout=30) > 0

        assert load.ok > 0
        assert load.failures == [], load.failures[:5]
        print(f"background load: {load.ok} predictions, 0 failures")
