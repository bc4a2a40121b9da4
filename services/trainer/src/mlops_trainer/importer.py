"""``mlops-train import``: register an ONNX classifier this project did not train.

The file must hold one float features input ``[batch, width]`` and one probabilities output
``[batch, classes]`` (:func:`~mlops_trainer.onnx_signature.read_signature`). Everything is
checked before anything is written: the graph, the class names against the output's width, the
model answering a probe (or the reference rows) through onnxruntime, and the spec. Then one run
of the experiment named after the model gets the ONNX model (``mlflow.onnx`` flavour at the
usual artifact path), ``model-spec.json`` (``trainable: false``, preprocessing
:data:`IMPORT_PREPROCESSING`) and, when given, the drift reference completed with the model's own
``prediction`` and ``confidence``; the version is registered last, then ``staging`` or
``production`` moves. A refused model registers nothing.

A name whose versions this project trained (spec ``trainable: true``, or no spec: a first-wave
digits version) is refused: an import would put an untrainable version among trained ones, and
the next retrain would register over it. A new version of an imported model is welcome.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import mlflow
import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd

from mlops_common import promotion
from mlops_common.datatypes import DATATYPES
from mlops_common.model_spec import (
    MODEL_SPEC_ARTIFACT,
    SOURCE_CONFIDENCE,
    SOURCE_LABEL,
    ModelSpec,
    parse_spec,
)
from mlops_common.registry import (
    ALIAS_PRODUCTION,
    ALIAS_STAGING,
    ONNX_ARTIFACT_PATH,
    REFERENCE_ARTIFACT,
    REFERENCE_CONFIDENCE_COLUMN,
    REFERENCE_LABEL_COLUMN,
    REFERENCE_PREDICTION_COLUMN,
)
from mlops_trainer import registry
from mlops_trainer.onnx_signature import (
    Signature,
    SignatureError,
    mlflow_signature,
    read_signature,
)
from mlops_trainer.settings import TrainerSettings
from mlops_trainer.trainable import trained_version

log = logging.getLogger(__name__)

#: Preprocessing of an imported features model: the numbers go to the model as sent.
IMPORT_PREPROCESSING: Final = "identity@1"
STAGES: Final = (ALIAS_STAGING, ALIAS_PRODUCTION)
_OUTPUT_COLUMNS: Final = (REFERENCE_PREDICTION_COLUMN, REFERENCE_CONFIDENCE_COLUMN)


class ModelImportError(ValueError):
    """An import refused before anything was registered; the message says what is wrong."""


@dataclass(frozen=True)
class ImportResult:
    """What ``mlops-train import`` registered (JSON-ready through :meth:`as_dict`)."""

    name: str
    version: str
    run_id: str
    stage: str | None
    previous_production: str | None = None
    event_published: bool = False
    reference_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain values for the CLI's output."""
        return asdict(self)


def load_onnx(path: Path) -> onnx.ModelProto:
    """Read and check an ONNX file; raise ModelImportError for a missing or invalid one."""
    if not path.is_file():
        raise ModelImportError(f"ONNX file {path} does not exist")
    try:
        model = onnx.load_model(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # protobuf DecodeError, ValidationError, OSError...
        raise ModelImportError(f"{path.name} is not a valid ONNX model: {exc}") from exc
    return model


def build_spec(
    name: str, signature: Signature, classes: Sequence[str], columns: Sequence[str]
) -> ModelSpec:
    """The spec of an imported classifier; raise ModelImportError when the classes do not fit."""
    width = signature.input_shape[1]
    if len(classes) != signature.output_shape[-1]:
        raise ModelImportError(
            f"--classes names {len(classes)} classes ({', '.join(classes)}) but output "
            f"{signature.output_tensor!r} has {signature.output_shape[-1]} "
            f"(shape {signature.output_shape})"
        )
    if len(columns) != width:
        raise ModelImportError(f"{len(columns)} column names for an input of width {width}")
    monitored = [{"name": c, "source": f"input:{i}"} for i, c in enumerate(columns)]
    monitored += [
        {"name": REFERENCE_PREDICTION_COLUMN, "source": SOURCE_LABEL},
        {"name": REFERENCE_CONFIDENCE_COLUMN, "source": SOURCE_CONFIDENCE},
    ]
    try:
        return parse_spec(
            {
                "name": name,
                "task": name,
                "input": {
                    "kind": "features",
                    "tensor": signature.input_tensor,
                    "datatype": signature.datatype,
                    "shape": signature.input_shape,
                },
                "output": {"tensor": signature.output_tensor, "classes": list(classes)},
                "monitored": monitored,
                "preprocessing": IMPORT_PREPROCESSING,
                "trainable": False,
            }
        )
    except ValueError as exc:
        raise ModelImportError(str(exc)) from exc


def read_reference(path: Path, width: int, classes: Sequence[str]) -> pd.DataFrame:
    """The reference CSV: ``width`` numeric feature columns, optionally ``label`` (a class name
    or index); ``prediction``/``confidence`` columns are recomputed, so they are dropped."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ModelImportError(f"cannot read the reference CSV {path}: {exc}") from exc
    frame = frame.drop(columns=[c for c in _OUTPUT_COLUMNS if c in frame.columns])
    features = [c for c in frame.columns if c != REFERENCE_LABEL_COLUMN]
    if len(features) != width:
        raise ModelImportError(
            f"the reference CSV has {len(features)} feature columns; the model's input takes "
            f"{width} (besides an optional '{REFERENCE_LABEL_COLUMN}' column)"
        )
    if len(frame) < 2:
        raise ModelImportError(f"the reference CSV has {len(frame)} row(s); at least 2 are needed")
    try:
        frame[features] = frame[features].astype("float64")
    except (TypeError, ValueError) as exc:
        raise ModelImportError(f"the reference CSV holds non-numeric features: {exc}") from exc
    if not np.isfinite(frame[features].to_numpy()).all():
        raise ModelImportError("the reference CSV holds empty, NaN or infinite feature values")
    if REFERENCE_LABEL_COLUMN in frame.columns:
        frame[REFERENCE_LABEL_COLUMN] = _label_indices(frame[REFERENCE_LABEL_COLUMN], classes)
    return frame


def _label_indices(labels: pd.Series, classes: Sequence[str]) -> list[int]:
    index = {name: i for i, name in enumerate(classes)}
    out = []
    for row, raw in enumerate(labels.astype(str)):
        if raw in index:
            out.append(index[raw])
        elif raw.isdigit() and int(raw) < len(classes):
            out.append(int(raw))
        else:
            raise ModelImportError(
                f"reference row {row}: label {raw!r} is none of the classes ({', '.join(classes)})"
            )
    return out


def _probabilities(model: onnx.ModelProto, spec: ModelSpec, rows: np.ndarray) -> np.ndarray:
    """The model's answer on ``rows`` (onnxruntime on CPU; torch is not loaded).

    Raises:
        ModelImportError: the model fails to run or answers another shape than [rows, classes].
    """
    dtype = DATATYPES[spec.input.datatype].dtype
    try:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        (out,) = session.run([spec.output.tensor], {spec.input.tensor: rows.astype(dtype)})
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelImportError(f"the model does not run under onnxruntime: {exc}") from exc
    answer = np.asarray(out, dtype=np.float64)
    expected = (len(rows), len(spec.classes))
    if answer.shape != expected:
        raise ModelImportError(
            f"the model answered shape {list(answer.shape)}; expected {list(expected)}"
        )
    return answer


@dataclass(frozen=True)
class _Checked:
    model: onnx.ModelProto
    spec: ModelSpec
    reference: pd.DataFrame | None


def check_import(
    name: str, onnx_path: Path, classes: Sequence[str], reference: Path | None
) -> _Checked:
    """Everything ``import`` verifies before writing; raise ModelImportError naming the problem."""
    classes = [c.strip() for c in classes]
    model = load_onnx(onnx_path)
    try:
        signature = read_signature(model)
    except SignatureError as exc:
        raise ModelImportError(f"{onnx_path.name}: {exc}") from exc
    width = signature.input_shape[1]
    frame = None
    columns: list[str] = [f"f{i}" for i in range(width)]
    if reference is not None:
        frame = read_reference(reference, width, classes)
        columns = [str(c) for c in frame.columns if c != REFERENCE_LABEL_COLUMN]
    spec = build_spec(name, signature, classes, columns)
    probe = frame[columns].to_numpy() if frame is not None else np.zeros((1, width))
    probabilities = _probabilities(model, spec, probe)
    if frame is not None:
        frame[REFERENCE_PREDICTION_COLUMN] = probabilities.argmax(axis=1)
        frame[REFERENCE_CONFIDENCE_COLUMN] = probabilities.max(axis=1)
    return _Checked(model, spec, frame)


def import_model(
    name: str,
    onnx_path: Path,
    classes: Sequence[str],
    *,
    reference: Path | None = None,
    stage: str | None = None,
    settings: TrainerSettings | None = None,
    publish: promotion.Publish | None = None,
) -> ImportResult:
    """Check, log, register and (for ``stage``) move an alias; see the module docstring.

    Raises:
        ModelImportError: the file, classes, reference or stage are refused, or ``name`` is a
            model this project trains (nothing written).
    """
    if stage is not None and stage not in STAGES:
        raise ModelImportError(f"--stage {stage!r}: use one of {', '.join(STAGES)}")
    checked = check_import(name, onnx_path, classes, reference)
    settings = settings or TrainerSettings()
    uri = settings.tracking_uri
    client = registry.make_client(uri)
    trained = trained_version(client, name)
    if trained is not None:
        raise ModelImportError(
            f"model {name!r} is trained by this project (version {trained} was trained here, "
            "not imported); an import cannot add versions to it: choose another --name"
        )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    location = settings.artifact_location if registry.is_local_store(uri) else None
    location = location / name if location is not None else None
    experiment_id = registry.ensure_experiment(client, name, location)
    tags = {"source": "import", "onnx_file": onnx_path.name}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"import-{name}", tags=tags) as run:
        info = mlflow.onnx.log_model(
            checked.model, name=ONNX_ARTIFACT_PATH, signature=mlflow_signature(checked.spec)
        )
        mlflow.log_text(checked.spec.to_json(), MODEL_SPEC_ARTIFACT)
        if checked.reference is not None:
            mlflow.log_text(checked.reference.to_csv(index=False), REFERENCE_ARTIFACT)
        version = registry.register_version(
            client,
            model_uri=info.model_uri,
            run_id=run.info.run_id,
            tags={"source": "import"},
            name=name,
            description=f"Imported ONNX classifier: {', '.join(checked.spec.classes)}",
        )
        number = str(version.version)
        mlflow.set_tag("registered_version", number)
    previous, published = None, False
    if stage == ALIAS_STAGING:
        promotion.set_alias(client, ALIAS_STAGING, number, name=name)
    elif stage == ALIAS_PRODUCTION:
        done = promotion.promote(client, number, name=name, publish=publish)
        previous, published = done.previous, done.published
    rows = 0 if checked.reference is None else len(checked.reference)
    log.info("imported model", extra={"model": name, "version": number, "stage": stage})
    return ImportResult(name, number, run.info.run_id, stage, previous, published, rows)
