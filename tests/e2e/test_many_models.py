"""Bring your own model: an outside ONNX classifier served, monitored and swapped beside digits.

The stack runs the way ``make up`` runs it. A 4-feature, 3-class model built with
``onnx.helper`` (input ``input``, class names) comes in through ``mlops-train import``; after a
restart the stack serves it beside the digits model in one inference process. Through the
gateway, by name: class names in the answer, 422 for 5 features, traffic on its own stream, a
drift verdict on its own columns, and a new version swapped in under load with no failed
request, while digits keeps answering.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import redis

from mlops_common.redis_keys import traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.iris import write_iris_model

from .test_loop import STACK_ENV, poll

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900)]

IRIS = "iris-classifier"
CLASSES = ["setosa", "versicolor", "virginica"]
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
DIGIT = [0.0] * 28 + [16.0] * 8 + [0.0] * 28


class ModelsLoad:
    """Single predictions of both models from two threads until stopped; counts failures."""

    def __init__(self, base_url: str, rows: np.ndarray) -> None:
        self.base_url = base_url
        self.rows = rows
        self.ok = {IRIS: 0, MODEL_NAME: 0}
        self.versions: set[str] = set()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(IRIS,), daemon=True),
            threading.Thread(target=self._run, args=(MODEL_NAME,), daemon=True),
        ]

    def _run(self, model: str) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            i = 0
            while not self._stop.is_set():
                row = self.rows[i % len(self.rows)].tolist() if model == IRIS else DIGIT
                try:
                    response = client.post(f"/v1/models/{model}/predict", json={"instances": [row]})
                    if response.status_code == 200:
                        self.ok[model] += 1
                        if model == IRIS:
                            self.versions.add(response.json()["model"]["version"])
                    else:
                        self.failures.append(f"{model}: {response.status_code} {response.text}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{model}: {exc!r}")
                i += 1
                self._stop.wait(0.02)

    def __enter__(self) -> ModelsLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


def _import(tracking_uri: str, onnx_path: Path, reference: Path) -> None:
    """``mlops-train import`` the iris model into the stack's registry, as production."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "LOG_LEVEL": "WARNING"}
    cli = Path(sys.executable).parent / "mlops-train"
    command = [str(cli), "import", "--name", IRIS, "--onnx", str(onnx_path)]
    command += ["--classes", ",".join(CLASSES), "--reference", str(reference)]
    command += ["--stage", "production"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


def _served(client: httpx.Client) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in client.get("/v1/models").json()["models"]}


def test_an_outside_model_is_served_monitored_and_swapped_beside_digits(
    tmp_path: Path, local_stack: Callable[..., Any], seeded_stack: Callable[..., Any]
) -> None:
    rng = np.random.default_rng(7)
    reference_rows = rng.normal(0.0, 1.0, size=(400, 4)).astype(np.float32)
    live = rng.normal(0.0, 1.0, size=(300, 4)).astype(np.float32)
    shifted = live + np.array([4.0, 0.0, 0.0, 0.0], dtype=np.float32)  # one column moves
    reference = tmp_path / "reference.csv"
    pd.DataFrame(reference_rows, columns=COLUMNS).to_csv(reference, index=False)
    state = tmp_path / "state"

    # First start (the built-in models are registered); the outside model comes in as production.
    with seeded_stack(state, STACK_ENV) as stack:
        stack.wait_for_line(r"first prediction ([\d.]+)s after start", timeout=480)
        _import(stack.url("MLFLOW_PORT"), write_iris_model(tmp_path / "v1.onnx"), reference)

    # Second start: the stack serves every model with a production alias.
    with local_stack(state, STACK_ENV) as stack:
        stack.wait_for_line(r"first prediction ([\d.]+)s after start", timeout=300)
        stack.wait_for_line(rf"model\s+{IRIS}", timeout=30)
        gateway = stack.url("GATEWAY_PORT")
        store = redis.Redis.from_url(stack.redis_url)
        admin = {"X-API-Key": stack.admin_key}
        with httpx.Client(base_url=gateway, timeout=60) as client:
            # The stack waits for the default model; the outside one loads beside it.
            def both_ready() -> dict[str, dict[str, Any]] | None:
                models = _served(client)
                ready = all(models.get(m, {}).get("ready") for m in (IRIS, MODEL_NAME))
                return models if ready else None

            served = poll("both models ready", both_ready, 120)
            assert served[IRIS]["ready"], served[IRIS]
            assert served[IRIS]["spec"]["input"]["tensor"] == "input"
            assert served[IRIS]["spec"]["output"]["classes"] == CLASSES
            assert served[IRIS]["trainable"] is False
            assert served[MODEL_NAME]["ready"]

            # predict by name: class names in the answer
            answer = client.post(
                f"/v1/models/{IRIS}/predict", json={"instances": live[:3].tolist()}
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["model"] == {"name": IRIS, "version": "1"}
            for prediction in body["predictions"]:
                assert prediction["label"] in CLASSES
                assert CLASSES[prediction["class_index"]] == prediction["label"]
                assert len(prediction["probabilities"]) == 3
            # feedback by class name
            first = body["predictions"][0]["id"]
            labelled = client.post("/v1/feedback", json={"id": first, "label": "virginica"})
            assert labelled.json() == {"id": first, "label": 2, "model": IRIS}

            # 5 features: 422 that says what the spec wants
            wrong = client.post(f"/v1/models/{IRIS}/predict", json={"instances": [[0.1] * 5]})
            assert wrong.status_code == 422, wrong.text
            assert wrong.json()["error"]["code"] == "invalid_features"
            assert "has 5 values; expected 4" in wrong.json()["error"]["message"]
            # retraining an imported model: 409 with the reason
            refused = client.post(f"/v1/models/{IRIS}/retrain", headers=admin, json={})
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"]["code"] == "not_trainable"

            # traffic on its own stream; digits' stream does not get it
            digits_before = store.xlen(traffic_stream(MODEL_NAME))
            for start in range(0, len(shifted), 50):
                batch = shifted[start : start + 50].tolist()
                sent = client.post(f"/v1/models/{IRIS}/predict", json={"instances": batch})
                assert sent.status_code == 200, sent.text
            poll("iris traffic logged", lambda: store.xlen(traffic_stream(IRIS)) >= 303, 30)
            assert store.xlen(traffic_stream(MODEL_NAME)) == digits_before

            # a drift verdict on the iris model's own columns
            def verdict() -> dict[str, Any] | None:
                checked = client.post(f"/v1/models/{IRIS}/drift/check", headers=admin)
                return checked.json() if checked.status_code == 200 else None

            result = poll("an iris drift verdict", verdict, 90, every=2)
            assert result["drift_detected"], result
            assert "sepal_length" in result["drifted_features"], result
            assert set(result["feature_scores"]) <= {*COLUMNS, "prediction", "confidence"}
            assert result["retrain_job_id"] is None  # not trainable: nothing queued
            status = client.get(f"/v1/models/{IRIS}/drift")
            assert status.status_code == 200
            assert "sepal_length" in status.json()["drifted_features"]

            # hot swap under load: version 2 of iris while both models answer
            with ModelsLoad(gateway, live) as load:
                poll("load running", lambda: load.ok[IRIS] > 20 and load.ok[MODEL_NAME] > 20, 30)
                _import(
                    stack.url("MLFLOW_PORT"),
                    write_iris_model(tmp_path / "v2.onnx", seed=1),
                    reference,
                )
                poll("version 2 served", lambda: "2" in load.versions, 90)
                served_after = load.ok[IRIS]
                poll("more after the swap", lambda: load.ok[IRIS] > served_after + 20, 30)
            assert load.failures == [], load.failures[:5]
            assert load.ok[MODEL_NAME] > 20
            assert _served(client)[IRIS]["version"] == "2"
