"""The model-registry workflow's evaluation, against a real MLflow store with real ONNX models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import evaluate_candidate as ev
import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression

from mlops_common.features import FEATURE_NAMES
from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING, MODEL_NAME
from mlops_common.testing.onnx_models import (
    IR_VERSION,
    OPSET,
    register_onnx_model,
    write_linear_model,
)


def _write_logistic_model(path: Path) -> Path:
    """A good model of the contract: logistic regression on the digits, exported by hand."""
    x, y = ev.heldout_set("digits")  # any digits will do for fitting
    model = LogisticRegression(max_iter=2000).fit(x / 16.0, y)
    weight = numpy_helper.from_array(model.coef_.T.astype(np.float32), "w")
    bias = numpy_helper.from_array(model.intercept_.astype(np.float32), "b")
    scale = numpy_helper.from_array(np.array(1 / 16, dtype=np.float32), "scale")
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["features", "scale"], ["x"]),
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Add", ["z", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "logistic",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        [scale, weight, bias],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    onnx.save(proto, str(path))
    return path


def _log_reference(uri: str, version: str, model_path: Path, tmp: Path, *, corrupt: bool) -> None:
    """Log reference/features.csv to the version's run, as the trainer does."""
    import onnxruntime as ort
    from mlflow import MlflowClient

    x, y = ev.heldout_set("digits")
    probabilities = ort.InferenceSession(str(model_path)).run(None, {"features": x[:50]})[0]
    frame = pd.DataFrame(x[:50], columns=list(FEATURE_NAMES)).assign(
        label=y[:50], prediction=probabilities.argmax(axis=1), confidence=probabilities.max(axis=1)
    )
    if corrupt:  # the artifact no longer matches what training recorded
        frame["prediction"] = (frame["prediction"] + 1) % 10
    csv = tmp / f"v{version}" / "features.csv"
    csv.parent.mkdir(parents=True)
    frame.to_csv(csv, index=False)
    client = MlflowClient(tracking_uri=uri)
    run_id = client.get_model_version(MODEL_NAME, version).run_id
    client.log_artifact(run_id, str(csv), artifact_path="reference")


def _aliases(uri: str) -> dict[str, str]:
    from mlflow import MlflowClient

    model = MlflowClient(tracking_uri=uri).get_registered_model(MODEL_NAME)
    return {alias: str(version) for alias, version in model.aliases.items()}


def _evaluate(uri: str, tmp: Path, *args: str) -> tuple[int, str]:
    report = tmp / "report.md"
    report.unlink(missing_ok=True)
    code = ev.main(
        [
            "--tracking-uri",
            uri,
            "--repeats",
            "3",
            "--report",
            str(report),
            "--workdir",
            str(tmp / "w"),
            *args,
        ]
    )
    return code, report.read_text() if report.exists() else ""


def test_registry_evaluation_promotes_only_a_better_consistent_candidate(
    mlflow_store: Any, tmp_path: Path
) -> None:
    """One store, the workflow's three outcomes: promote, refuse on parity, unknown version."""
    uri: str = mlflow_store.tracking_uri
    weak = write_linear_model(tmp_path / "weak.onnx", seed=0)
    good = _write_logistic_model(tmp_path / "good.onnx")
    v1 = register_onnx_model(uri, weak, alias=ALIAS_PRODUCTION)
    _log_reference(uri, v1, weak, tmp_path, corrupt=False)
    v2 = register_onnx_model(uri, good, alias=ALIAS_STAGING)
    _log_reference(uri, v2, good, tmp_path, corrupt=False)

    code, text = _evaluate(uri, tmp_path, "--promote", "--latency-tolerance", "100")
    assert code == 0
    assert _aliases(uri)[ALIAS_PRODUCTION] == v2
    assert "Verdict: promoted to production" in text
    assert f"| candidate | {v2} |" in text
    assert f"| production | {v1} |" in text

    v3 = register_onnx_model(uri, good, alias=ALIAS_STAGING)
    _log_reference(uri, v3, good, tmp_path, corrupt=True)
    code, text = _evaluate(uri, tmp_path, "--promote", "--latency-tolerance", "100")
    assert code == 0
    assert _aliases(uri)[ALIAS_PRODUCTION] == v2  # unchanged
    assert "Verdict: not promoted" in text
    assert "ONNX parity fails: 0/50 labels equal" in text

    assert _evaluate(uri, tmp_path, "--candidate", "42")[0] == 1


def test_decision_rule() -> None:
    fast = {1: 1.0, 64: 2.0}
    production = ev.ModelReport("1", 0.95, True, "", fast)
    same = ev.ModelReport("2", 0.95, True, "", fast)
    assert ev.decide(same, production, margin=0.0, tolerance=0.25)[0]
    assert not ev.decide(same, production, margin=0.01, tolerance=0.25)[0]
    slow = ev.ModelReport("2", 0.99, True, "", {1: 1.0, 64: 3.0})
    promote, reasons = ev.decide(slow, production, margin=0.0, tolerance=0.25)
    assert not promote
    assert any("batch 64" in r for r in reasons)
    first = ev.ModelReport("1", 0.5, True, "", fast)
    assert ev.decide(first, None, margin=0.0, tolerance=0.25) == (
        True,
        ["no production version yet"],
    )
