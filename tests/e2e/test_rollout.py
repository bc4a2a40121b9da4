"""Safe rollout through the stack ``make up`` runs, while labelled traffic flows.

1. A deliberately bad version (an ONNX file that answers one class, registered beside the
   trained versions; ``mlops-train import`` refuses to add versions to a model this project
   trains) is promoted through the admin API: it goes on probation, drift's rollout controller
   sees its live accuracy collapse on the feedback labels and moves ``production`` back;
   inference swaps back; not one request fails; the reason is in the decision log.
2. Candidates staged beside production are shadowed by inference on live requests: one better
   offline but worse on the labelled live traffic is rejected, one better on both is promoted.

Prints the time from the bad promotion to the rollback decision and to the first answer from
the restored version.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_digits

from mlops_common.digits_spec import digits_spec
from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING, MODEL_NAME
from mlops_common.testing.onnx_models import register_onnx_model
from mlops_common.testing.rollout_models import write_constant_model, write_lookup_model

from .test_loop import STACK_ENV, BackgroundLoad, poll

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900)]

ENV = {
    **STACK_ENV,
    "DRIFT_RETRAIN_ENABLED": "false",  # only the rollout moves production here
    "DRIFT_ROLLOUT_INTERVAL_S": "1",
    "DRIFT_ROLLOUT_MIN_LABELLED": "40",
    "DRIFT_ROLLOUT_MIN_ROWS": "40",
    "DRIFT_ROLLOUT_MIN_SHADOWED": "120",
    "DRIFT_ROLLOUT_MIN_SHADOW_LABELLED": "120",
    "INFERENCE_POLL_INTERVAL_S": "2",
}


class LabelledLoad(BackgroundLoad):
    """Single digits predictions from a thread (:class:`BackgroundLoad`), each followed by its
    true label as feedback; remembers which version answered when."""

    def __init__(self, base_url: str, rows: np.ndarray, labels: np.ndarray) -> None:
        super().__init__(base_url, rows, rate_per_s=50.0)
        self.labels = labels
        self.answers: list[tuple[float, str]] = []

    def answered(self, client: httpx.Client, index: int, body: dict[str, Any]) -> None:
        """Note the version, send the true label of the answered row."""
        self.answers.append((time.monotonic(), body["model"]["version"]))
        pid = body["predictions"][0]["id"]
        feedback = client.post("/v1/feedback", json={"id": pid, "label": int(self.labels[index])})
        if feedback.status_code != 200:
            self.failures.append(f"feedback {feedback.status_code} {feedback.text[:200]}")

    def answered_by(self, version: str, after: float = 0.0) -> int:
        """Answers from ``version`` since ``after`` (monotonic seconds)."""
        return sum(1 for t, v in self.answers if v == version and t >= after)


def _production(mlflow: MlflowClient) -> str:
    return str(mlflow.get_model_version_by_alias(MODEL_NAME, ALIAS_PRODUCTION).version)


def _register(tracking_uri: str, path: Path, alias: str | None = None) -> str:
    """Register the digits-contract ONNX file ``path`` as a new version (with the digits spec)."""
    spec = json.loads(digits_spec(MODEL_NAME).to_json())
    return register_onnx_model(tracking_uri, path, alias=alias, spec=spec)


def _stage(tracking_uri: str, path: Path, offline: float, production_offline: float) -> str:
    """Register ``path`` as ``staging`` with offline figures that beat production's."""
    version = _register(tracking_uri, path, ALIAS_STAGING)
    mlflow = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    run_id = mlflow.get_model_version(MODEL_NAME, version).run_id
    assert run_id is not None
    mlflow.log_metric(run_id, "test_accuracy", offline)
    mlflow.log_metric(run_id, "production_test_accuracy", production_offline)
    return version


def _decision(client: httpx.Client, action: str, version: str) -> dict[str, Any] | None:
    body = client.get(f"/v1/models/{MODEL_NAME}/rollout").json()
    for entry in body.get("decisions", []):
        if entry["action"] == action and entry["version"] == version:
            return dict(entry)
    return None


def test_a_bad_promotion_rolls_back_and_the_gate_weighs_live_evidence(
    tmp_path: Path, seeded_stack: Callable[..., Any]
) -> None:
    digits = load_digits()
    rows, labels = digits.data.astype(np.float32)[:300], digits.target.astype(int)[:300]
    with seeded_stack(tmp_path / "state", ENV) as stack:
        stack.wait_for_line(r"first prediction ([\d.]+)s after start", timeout=480)
        tracking = stack.url("MLFLOW_PORT")
        mlflow = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
        good = _production(mlflow)
        admin = {"X-API-Key": stack.admin_key}
        with (
            httpx.Client(base_url=stack.url("GATEWAY_PORT"), timeout=30) as client,
            LabelledLoad(stack.url("GATEWAY_PORT"), rows, labels) as load,
        ):
            poll("labelled traffic on production", lambda: load.answered_by(good) >= 80, 60)

            # 1. a bad version promoted by a person, rolled back by the platform
            bad = _register(tracking, write_constant_model(tmp_path / "bad.onnx", label=0))
            promoted = client.post(
                f"/v1/models/{MODEL_NAME}/promote", json={"version": bad}, headers=admin
            )
            assert promoted.status_code == 200, promoted.text
            started = time.monotonic()
            rolled = poll(
                "rollback decision",
                lambda: _decision(client, "rolled_back", bad),
                240,  # 2.2-3.5 s as a rule; one loaded CI run saw none within 120 s
                every=0.5,
            )
            decided = time.monotonic() - started
            assert _production(mlflow) == good
            assert "live accuracy" in rolled["reason"]
            poll(
                "answers from the restored version",
                lambda: load.answered_by(good, started + decided),
                60,
                0.5,
            )
            restored = min(t for t, v in load.answers if v == good and t >= started + decided)
            print(
                f"\nbad promotion → rollback decided {decided:.1f} s, restored version "
                f"answering {restored - started:.1f} s; answers from the bad version: "
                f"{load.answered_by(bad)}"
            )
            assert load.answered_by(bad) > 0  # it did serve, and was taken back

            # 2. shadowed candidates: better offline but worse live → rejected
            wrong = labels.copy()
            wrong[::3] = (wrong[::3] + 1) % 10  # a third of the answers wrong
            worse = _stage(
                tracking, write_lookup_model(tmp_path / "w.onnx", rows, wrong), 0.999, 0.98
            )
            rejected = poll("rejection", lambda: _decision(client, "rejected", worse), 180, 1.0)
            assert "live: candidate" in rejected["reason"]
            assert _production(mlflow) == good
            rollout = client.get(f"/v1/models/{MODEL_NAME}/rollout").json()
            assert rollout["stats"] is None or rollout["stats"]["rows"] >= 0

            # better on both → promoted (then on probation, which it passes)
            better = _stage(
                tracking, write_lookup_model(tmp_path / "b.onnx", rows, labels), 0.999, 0.98
            )
            chosen = poll("promotion", lambda: _decision(client, "promoted", better), 180, 1.0)
            assert ">= production" in chosen["reason"]
            poll("the promoted candidate serves", lambda: _production(mlflow) == better, 30)
            poll("answers from the candidate", lambda: load.answered_by(better) > 20, 60)
        assert load.failures == []
