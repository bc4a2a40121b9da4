"""``mlops-train import``: an outside ONNX classifier registered with its spec in a real store."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import onnx
import pytest
from mlflow.tracking import MlflowClient
from onnx import TensorProto

from mlops_common.model_spec import MODEL_SPEC_ARTIFACT, load_spec
from mlops_common.promotion import history
from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING, REFERENCE_ARTIFACT
from mlops_trainer.cli import main

pytestmark = pytest.mark.integration

NAME = "iris-classifier"
CLASSES = "setosa,versicolor,virginica"


def _import(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    code = main(["import", "--name", NAME, *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else {}), captured.err


def test_import_registers_a_version_with_its_spec_and_promotes_it(
    store: MlflowClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    onnx_classifier: Callable[..., Path],
) -> None:
    onnx_file = onnx_classifier(tmp_path / "iris.onnx")
    code, printed, err = _import(
        capsys, "--onnx", str(onnx_file), "--classes", CLASSES, "--stage", "production"
    )
    assert code == 0, err
    assert printed["name"] == NAME
    assert printed["version"] == "1"
    assert printed["stage"] == ALIAS_PRODUCTION
    assert printed["event_published"] is False  # no Redis: the registry still moved

    version = store.get_model_version(NAME, "1")
    assert version.tags["source"] == "import"
    assert str(store.get_model_version_by_alias(NAME, ALIAS_PRODUCTION).version) == "1"
    assert history(store, NAME) == ["1"]

    spec_file = mlflow.artifacts.download_artifacts(
        run_id=version.run_id, artifact_path=MODEL_SPEC_ARTIFACT, dst_path=str(tmp_path / "dl")
    )
    spec = load_spec(Path(spec_file))
    assert spec.name == spec.task == NAME
    assert (spec.input.kind, spec.input.tensor, spec.input.datatype) == (
        "features",
        "input",
        "FP32",
    )
    assert spec.input.shape == [-1, 4]
    assert spec.output.tensor == "probabilities"
    assert spec.classes == ["setosa", "versicolor", "virginica"]
    assert spec.trainable is False
    assert spec.monitored_names == ["f0", "f1", "f2", "f3", "prediction", "confidence"]

    # The registered model loads from the registry and answers like the file.
    model_dir = mlflow.artifacts.download_artifacts(f"models:/{NAME}@{ALIAS_PRODUCTION}")
    (registered,) = Path(model_dir).rglob("*.onnx")
    assert onnx.load_model(str(registered)).graph == onnx.load_model(str(onnx_file)).graph

    # A second import with a reference and --stage staging: production stays on 1.
    reference = tmp_path / "reference.csv"
    rows = np.random.default_rng(1).uniform(0, 8, size=(20, 4)).round(3)
    header = "sepal_length,sepal_width,petal_length,petal_width,label"
    labels = ["setosa", "virginica"] * 10
    body = "\n".join(
        ",".join([*map(str, row), label]) for row, label in zip(rows, labels, strict=True)
    )
    reference.write_text(f"{header}\n{body}\n")
    args = ["--onnx", str(onnx_file), "--classes", CLASSES, "--reference", str(reference)]
    code, printed, err = _import(capsys, *args, "--stage", "staging")
    assert code == 0, err
    assert printed["version"] == "2"
    assert printed["reference_rows"] == 20
    assert str(store.get_model_version_by_alias(NAME, ALIAS_STAGING).version) == "2"
    assert str(store.get_model_version_by_alias(NAME, ALIAS_PRODUCTION).version) == "1"
    run_id = store.get_model_version(NAME, "2").run_id
    run_uri = store.get_run(run_id).info.artifact_uri
    spec = load_spec(mlflow.artifacts.load_text(f"{run_uri}/{MODEL_SPEC_ARTIFACT}"))
    assert spec.monitored_names == [*header.split(",")[:4], "prediction", "confidence"]
    table = list(csv.DictReader(io.StringIO(mlflow.artifacts.load_text(
        f"{run_uri}/{REFERENCE_ARTIFACT}"
    ))))  # fmt: skip
    assert len(table) == 20
    assert list(table[0]) == [*header.split(","), "prediction", "confidence"]
    assert [row["label"] for row in table[:2]] == ["0", "2"]
    assert all(0 <= int(row["prediction"]) < 3 for row in table)
    assert all(1 / 3 <= float(row["confidence"]) <= 1 for row in table)


@pytest.mark.parametrize(
    ("build", "classes", "message"),
    [
        ({"two_outputs": True}, CLASSES, "has 2 outputs ('probabilities', 'logits')"),
        ({"input_type": TensorProto.INT64}, CLASSES, "input 'input' is INT64; expected a float"),
        ({}, "a,b", "--classes names 2 classes (a, b) but output 'probabilities' has 3"),
        ({}, "a,b,a", "output.classes: class 'a' appears more than once"),
    ],
)
def test_a_refused_model_registers_nothing(
    store: MlflowClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    build: dict[str, int | bool],
    classes: str,
    message: str,
    onnx_classifier: Callable[..., Path],
) -> None:
    onnx_file = onnx_classifier(tmp_path / "model.onnx", **build)  # type: ignore[arg-type]
    code, _, err = _import(
        capsys, "--onnx", str(onnx_file), "--classes", classes, "--stage", "production"
    )
    assert code == 2
    assert message in err, err
    assert store.search_registered_models() == []
    assert store.get_experiment_by_name(NAME) is None


def test_a_reference_of_the_wrong_width_or_a_bad_file_is_refused(
    store: MlflowClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    onnx_classifier: Callable[..., Path],
) -> None:
    onnx_file = onnx_classifier(tmp_path / "iris.onnx")
    reference = tmp_path / "wide.csv"
    reference.write_text("a,b,c,d,e\n1,2,3,4,5\n1,2,3,4,5\n")
    args = ["--onnx", str(onnx_file), "--classes", CLASSES, "--reference", str(reference)]
    code, _, err = _import(capsys, *args)
    assert code == 2
    assert "the reference CSV has 5 feature columns; the model's input takes 4" in err
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    code, _, err = _import(capsys, "--onnx", str(garbage), "--classes", CLASSES)
    assert code == 2
    assert "garbage.onnx is not a valid ONNX model" in err
    assert store.search_registered_models() == []
