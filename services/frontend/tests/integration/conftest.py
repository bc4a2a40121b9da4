"""The real platform the frontend's pages are driven against, on free loopback ports.

Reuses the gateway's integration fixtures (background event loop, uvicorn ``HttpServer``, a real
inference server on a small ONNX model, the gateway factory) by loading its ``conftest.py``, and
adds what the frontend needs on top:

- a private ``redis-server`` (the traffic stream is shared state: other suites must not see ours);
- an MLflow registry with two versions carrying test metrics and a drift reference sample;
- the real drift service (the gateway suite's ``start_drift``) reading the gateway's traffic;
  the pages reach it only through the gateway;
- a real Celery worker (solo pool, in a thread) running a stand-in ``retrain`` task that reports
  stages and progress like the trainer's and returns what it returns: the trainer's
  ``PipelineResult.as_dict()`` plus a ``decision`` sentence.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

# Imported before any server thread starts: the drift service warms Evidently up in a thread,
# and two threads importing narwhals (via Evidently and via Altair) at once deadlock.
import altair  # noqa: F401
import numpy as np
import pytest

from mlops_common.digits_spec import digits_spec
from mlops_common.jobs import META_EPOCH, META_PROGRESS, META_STAGE, PROGRESS_STATE, RETRAIN_TASK
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.onnx_models import register_onnx_model
from mlops_common.testing.servers import RedisServer

REPO_ROOT = Path(__file__).resolve().parents[4]
GATEWAY_CONFTEST = REPO_ROOT / "services/gateway/tests/integration/conftest.py"


def _load_gateway_fixtures() -> ModuleType:
    name = "mlops_gateway_integration_fixtures"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, GATEWAY_CONFTEST)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_gw = _load_gateway_fixtures()
# The gateway suite's fixtures, registered here under their own names.
loop = _gw.loop
spans = _gw.spans
tracer_provider = _gw.tracer_provider
inference = _gw.inference
inference_target = _gw.inference_target
drift_service = _gw.drift_service  # the stand-in the factory needs; ours replaces its URL
gateway_factory = _gw.gateway_factory
HttpServer = _gw.HttpServer
ADMIN_KEY: str = _gw.ADMIN_KEY
start_drift = _gw.start_drift
write_reference_csv = _gw.write_reference_csv

#: What the stand-in retrain task reports and returns.
RETRAIN_STAGES = ("loading data", "training", "evaluating", "registering")
RETRAIN_RESULT = {  # mlops_trainer.pipeline.PipelineResult.as_dict(), plus "decision"
    "run_id": "stand-in-run",
    "metrics": {"test_accuracy": 0.962, "test_f1": 0.958},
    "parity": {
        "samples": 360,
        "argmax_mismatches": 0,
        "max_abs_diff": 3.1e-07,
        "atol": 0.0001,
        "ok": True,
    },
    "data_hash": "5f1d2c3b4a69788796a5b4c3d2e1f001",
    "version": "3",
    "promoted": True,
    "production_version": "2",
    "production_metrics": {"test_accuracy": 0.910, "test_f1": 0.905},
    "duration_s": 12.5,
    "decision": "candidate test_accuracy 0.962 ≥ production 0.910 + margin 0.005",
}
SERVING_METRICS = {"test_accuracy": 0.91, "test_f1": 0.905}


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private Redis for the frontend suite (overrides the shared one here only)."""
    if not RedisServer.available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A linear ONNX model of the contract fitted on scikit-learn's digits (~98% accurate), so
    the pages (and the docs' screenshot) show sensible predictions."""
    import onnx
    from onnx import numpy_helper
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from mlops_common.features import FEATURE_MAX
    from mlops_common.testing.onnx_models import build_model

    digits = load_digits()
    fitted = LogisticRegression(max_iter=1000).fit(digits.data / FEATURE_MAX, digits.target)
    model = build_model(hidden=(), seed=0)
    weights = {
        "w0": fitted.coef_.T.astype(np.float32),
        "b0": fitted.intercept_.astype(np.float32),
    }
    for index, initializer in enumerate(model.graph.initializer):
        if initializer.name in weights:
            replacement = numpy_helper.from_array(weights[initializer.name], initializer.name)
            model.graph.initializer[index].CopyFrom(replacement)
    path = tmp_path_factory.mktemp("model") / "digits-linear.onnx"
    onnx.save_model(model, str(path))
    return path


@pytest.fixture(scope="session")
def registry_uri(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> str:
    """Versions 1 and 2 of the model (2 in production), with metrics, the digits spec and a
    drift reference."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    reference = write_reference_csv(root / "reference.csv", model_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    spec = digits_spec().model_dump(mode="json", exclude_none=True)
    for alias, accuracy in ((None, 0.88), ("production", SERVING_METRICS["test_accuracy"])):
        version = register_onnx_model(
            uri, model_path, alias=alias, reference_csv=reference, spec=spec
        )
        run_id = client.get_model_version(MODEL_NAME, version).run_id
        client.log_metric(run_id, "test_accuracy", accuracy)
        client.log_metric(run_id, "test_f1", SERVING_METRICS["test_f1"] if alias else 0.87)
    return uri


@pytest.fixture(scope="session")
def drift_url(loop: Any, redis_url: str, registry_uri: str) -> Iterator[str]:
    """The real drift service over the private Redis and the registry's reference.

    Its rollout controller is off: it would log probation decisions of the promotions the page
    tests make, seconds later, into the decision log another page test reads."""
    server = start_drift(loop, redis_url, registry_uri, rollout={"enabled": False})
    yield server.url
    loop.run(server.stop())


@pytest.fixture(scope="session")
def retrain_worker(redis_url: str) -> Iterator[None]:
    """A real Celery worker (solo pool, in a thread) running the stand-in retrain task."""
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    app = Celery("frontend-tests", broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])

    @app.task(name=RETRAIN_TASK, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def retrain(
        self: Any, reason: str, overrides: list[str], model: str | None = None
    ) -> dict[str, Any]:
        for index, stage in enumerate(RETRAIN_STAGES, start=1):
            meta = {META_STAGE: stage, META_EPOCH: index, META_PROGRESS: index / 5}
            self.update_state(state=PROGRESS_STATE, meta=meta)
            time.sleep(0.4)
        del reason, overrides, model
        return dict(RETRAIN_RESULT)

    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        yield


@dataclass(frozen=True)
class Platform:
    """URLs of the running platform."""

    gateway_url: str
    drift_url: str
    redis_url: str
    registry_uri: str
    admin_key: str = ADMIN_KEY


@pytest.fixture(scope="session")
def platform(
    gateway_factory: Any,
    drift_url: str,
    redis_url: str,
    registry_uri: str,
) -> Platform:
    """A gateway (real inference behind it) whose drift service is the real one."""
    gateway = gateway_factory(drift_url=drift_url)
    return Platform(gateway, drift_url, redis_url, registry_uri)


def draw_digit_png(side: int = 96) -> bytes:
    """A PNG of a hand-drawn-looking "7": dark ink on white paper."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("L", (side, side), 255)
    pen = ImageDraw.Draw(image)
    pen.line([(20, 18), (76, 18), (40, 82)], fill=0, width=12)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def digit_png() -> bytes:
    """PNG bytes of one digit."""
    return draw_digit_png()
