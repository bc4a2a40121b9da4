"""What a version carries besides its graph: the spec it is registered with, the drift reference
and the confidence calibration.

Both are logged to the run before the version is created (see :mod:`mlops_trainer.pipeline`).
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import onnx
from omegaconf import DictConfig
from torch import nn

from mlops_common.calibration import CALIBRATION_ARTIFACT
from mlops_common.digits_spec import DIGITS_TASK, digits_spec
from mlops_common.model_spec import MODEL_SPEC_ARTIFACT, ModelSpec
from mlops_common.news_spec import NEWS_TASK, news_spec
from mlops_common.registry import MODEL_NAME, REFERENCE_ARTIFACT
from mlops_trainer.calibration import fit_calibration
from mlops_trainer.data import DatasetError, Split
from mlops_trainer.evaluate import reference_frame, reference_sample, text_reference_frame
from mlops_trainer.onnx_signature import check_matches
from mlops_trainer.recipes import recipe_for_task
from mlops_trainer.text_model import NewsBagClassifier
from mlops_trainer.train import predict_proba


def default_spec(cfg: DictConfig) -> ModelSpec:
    """The spec of the configured task's own model (``task=news``: ``news-classifier``)."""
    recipe = recipe_for_task(str(cfg.get("task", DIGITS_TASK)))
    return recipe.spec(recipe.model) if recipe else digits_spec(MODEL_NAME)


def spec_for(
    spec: ModelSpec, network: nn.Module, classes: list[str], *, registered: bool
) -> ModelSpec:
    """The spec a trained version is registered with: ``spec`` (its name, and when the model
    has versions already (``registered``), its classes), with a text network's classes and
    embedding width.

    Raises:
        DatasetError: the data's classes are not those of the model's versions (feedback and
            answers name classes by position: they cannot change under a model).
    """
    if not isinstance(network, NewsBagClassifier):
        return spec
    if registered and spec.task == NEWS_TASK and spec.classes != classes:
        raise DatasetError(
            f"the data's classes {classes} are not model {spec.name!r}'s {spec.classes}: "
            "train a new model name for other classes"
        )
    return news_spec(spec.name, classes=classes, embedding_dim=network.dim)


def log_reference(
    cfg: DictConfig, network: nn.Module, split: Split, spec: ModelSpec, onnx_path: Path
) -> None:
    """The drift reference: rows with the model's own answers. Digits: training rows. A text
    model: validation rows (articles it never trained on: on its training articles a text model
    is more confident than on any new one, and drift would see that as a shift), its monitored
    outputs as the exported graph computes them."""
    if spec.input.kind == "text":
        take = reference_sample(len(split.y_val), rows=int(cfg.reference.rows), seed=int(cfg.seed))
        frame = text_reference_frame(onnx_path, spec, split.x_val[take], split.y_val[take])
        mlflow.log_text(frame.to_csv(index=False), REFERENCE_ARTIFACT)
        return
    probabilities = predict_proba(network, split.x_train).numpy()
    frame = reference_frame(
        split.x_train,
        split.y_train,
        probabilities,
        rows=int(cfg.reference.rows),
        seed=int(cfg.seed),
    )
    mlflow.log_text(frame.to_csv(index=False), REFERENCE_ARTIFACT)


def log_spec(spec: ModelSpec, model: onnx.ModelProto) -> ModelSpec:
    """The version's model spec, checked against the exported graph (raises SignatureError)."""
    check_matches(spec, model)
    mlflow.log_text(spec.to_json(), MODEL_SPEC_ARTIFACT)
    return spec


def log_calibration(network: nn.Module, split: Split) -> dict[str, float]:
    """Fit the version's confidence calibration on the validation rows, check it on the test
    rows, log it (:data:`~mlops_common.calibration.CALIBRATION_ARTIFACT`) and its metrics."""
    calibration, metrics = fit_calibration(
        predict_proba(network, split.x_val).numpy(),
        split.y_val,
        predict_proba(network, split.x_test).numpy(),
        split.y_test,
    )
    mlflow.log_text(calibration.to_json(), CALIBRATION_ARTIFACT)
    mlflow.log_metrics(metrics)
    return metrics
