"""The whole job in one call: train → evaluate → export ONNX → parity → register → promote.

``run_pipeline(cfg)`` is what the CLI and the retraining worker call; the worker also passes
``extra`` rows (feedback-labelled traffic), appended to the train/val/test parts, so candidate
and production are judged on one held-out set that includes the new distribution; the test
set's two slices are reported too (``dataset_test_*``, ``feedback_test_*``).

Everything a version needs (ONNX model, metrics, config, manifest, confusion matrix, drift
reference, model card, ``model-spec.json`` checked against the exported graph) is logged to the
run first; the model version is created last and aliases move only after it exists, so a failed
or killed job never leaves a half-registered version or a moved alias.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import onnx
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig
from torch import nn

from mlops_common import promotion
from mlops_common.model_spec import ModelSpec
from mlops_common.registry import (
    ALIAS_PRODUCTION,
    ALIAS_STAGING,
    ONNX_ARTIFACT_PATH,
)
from mlops_trainer import registry
from mlops_trainer.checkpoint import save_checkpoint
from mlops_trainer.config import flat_params, to_yaml
from mlops_trainer.data import (
    ExtraRows,
    Features,
    Labels,
    Manifest,
    Split,
    add_rows,
)
from mlops_trainer.evaluate import (
    classification_metrics,
    confusion_figure,
    evaluate_onnx,
)
from mlops_trainer.export import Parity, ParityError, check_parity, export_onnx
from mlops_trainer.model_card import model_card
from mlops_trainer.onnx_signature import mlflow_signature
from mlops_trainer.profiling import profiled
from mlops_trainer.settings import TrainerSettings
from mlops_trainer.text_export import export_news_onnx
from mlops_trainer.text_model import NewsBagClassifier
from mlops_trainer.train import ProgressCallback, TrainResult, load_data, predict_proba, train
from mlops_trainer.version_files import (
    default_spec,
    log_calibration,
    log_reference,
    log_spec,
    spec_for,
)

log = logging.getLogger(__name__)


@dataclass
class PipelineResult:
    """What a pipeline run produced; ``as_dict`` is JSON-ready (the retraining job's result)."""

    run_id: str
    metrics: dict[str, float]
    parity: dict[str, Any]
    data_hash: str
    version: str | None = None
    promoted: bool = False
    #: Better offline, left as ``staging`` for drift's live-evidence gate (``registry.live_gate``).
    awaiting_live: bool = False
    production_version: str | None = None
    production_metrics: dict[str, float] = field(default_factory=dict)
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values."""
        return asdict(self)


def _noop(stage: str, epoch: int | None, progress: float) -> None:
    del stage, epoch, progress


Slices = dict[str, tuple[Features, Labels]]


def _test_slices(split: Split, extra: ExtraRows | None) -> Slices:
    """Named parts of the test set, reported besides the whole (prefix → rows)."""
    held_out = 0 if extra is None else len(extra.test[1])
    if not held_out:
        return {}
    return {
        "dataset_test_": (split.x_test[:-held_out], split.y_test[:-held_out]),
        "feedback_test_": (split.x_test[-held_out:], split.y_test[-held_out:]),
    }


def _production_metrics(
    client: MlflowClient, name: str, split: Split, slices: Slices, tmp: Path
) -> tuple[str | None, dict[str, float]]:
    """Production of ``name`` and its metrics on *this* test set (None, {} when there is none)."""
    current = promotion.alias_version(client, ALIAS_PRODUCTION, name)
    if current is None:
        return None, {}
    path = registry.download_model(f"models:/{name}@{ALIAS_PRODUCTION}", tmp / "production")
    metrics = evaluate_onnx(path, split.x_test, split.y_test)
    for prefix, (x, y) in slices.items():
        metrics.update(
            {prefix + k.removeprefix("test_"): v for k, v in evaluate_onnx(path, x, y).items()}
        )
    return str(current.version), metrics


def _train_and_log(
    cfg: DictConfig,
    data: tuple[Split, Manifest],
    settings: TrainerSettings,
    progress: ProgressCallback,
    tmp: Path,
) -> TrainResult:
    """Train (profiled when asked) and log the per-epoch metrics and the profiles."""
    with profiled(bool(cfg.profile), tmp / "profile") as callbacks:
        trained = train(
            cfg,
            on_progress=progress,
            callbacks=callbacks,
            split=data,
            log_dir=settings.output_dir / "lightning",
        )
    if callbacks:
        mlflow.log_artifacts(str(tmp / "profile"), "profile")
    for row in trained.history:
        mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
    return trained


def _evaluate_and_log(
    network: nn.Module, split: Split, slices: Slices, classes: list[str]
) -> dict[str, float]:
    """Test metrics (whole and per slice) and the confusion matrix of the PyTorch network."""
    probabilities = predict_proba(network, split.x_test).numpy()
    metrics = classification_metrics(probabilities, split.y_test)
    for prefix, (x, y) in slices.items():
        metrics.update(classification_metrics(predict_proba(network, x).numpy(), y, prefix))
    mlflow.log_metrics(metrics)
    figure = confusion_figure(probabilities, split.y_test, classes)
    mlflow.log_figure(figure, "evaluation/confusion_matrix.png")
    return metrics


def _export_and_check(
    cfg: DictConfig, network: nn.Module, split: Split, path: Path, progress: ProgressCallback
) -> tuple[onnx.ModelProto, Parity]:
    """Export to ONNX and check parity on the whole test set; raise when it fails."""
    progress("export", None, 0.0)
    if isinstance(network, NewsBagClassifier):
        model = export_news_onnx(network, path, opset=int(cfg.export.opset))
    else:
        model = export_onnx(network, path, opset=int(cfg.export.opset))
    progress("parity", None, 0.0)
    parity = check_parity(network, path, split.x_test, atol=float(cfg.export.parity_atol))
    mlflow.log_metrics(
        {
            "parity_max_abs_diff": parity.max_abs_diff,
            "parity_argmax_mismatches": float(parity.argmax_mismatches),
        }
    )
    if not parity.ok:
        raise ParityError(f"ONNX and PyTorch disagree on the test set: {parity.as_dict()}")
    onnx_metrics = evaluate_onnx(path, split.x_test, split.y_test)
    mlflow.log_metrics({f"onnx_{k}": v for k, v in onnx_metrics.items()})
    return model, parity


def _register_and_promote(
    cfg: DictConfig,
    name: str,
    client: MlflowClient,
    result: PipelineResult,
    model_uri: str,
    split: Split,
    slices: Slices,
    progress: ProgressCallback,
    tmp: Path,
    publish: promotion.Publish | None,
) -> None:
    """Create a version of ``name`` (last), set ``staging``, then apply the promotion rule."""
    progress("register", None, 0.0)
    result.production_version, result.production_metrics = _production_metrics(
        client, name, split, slices, tmp
    )
    if result.production_metrics:
        mlflow.log_metrics({f"production_{k}": v for k, v in result.production_metrics.items()})
    version = registry.register_version(
        client,
        model_uri=model_uri,
        run_id=result.run_id,
        tags={"data_hash": result.data_hash, **{k: f"{v:.6f}" for k, v in result.metrics.items()}},
        name=name,
    )
    result.version = str(version.version)
    promotion.set_alias(client, ALIAS_STAGING, result.version, name)
    if cfg.registry.promote:
        progress("promote", None, 0.0)
        better = promotion.should_promote(
            result.metrics["test_accuracy"],
            result.production_metrics.get("test_accuracy"),
            float(cfg.registry.margin),
        )
        if better and cfg.registry.get("live_gate", False) and result.production_version:
            result.awaiting_live = True  # shadowed on live traffic; drift's controller decides
        elif better:
            promotion.promote(client, result.version, name=name, publish=publish)
            result.promoted = True
    mlflow.set_tags({"registered_version": result.version, "promoted": str(result.promoted)})


def run_pipeline(
    cfg: DictConfig,
    *,
    settings: TrainerSettings | None = None,
    on_progress: ProgressCallback | None = None,
    tags: dict[str, str] | None = None,
    checkpoint: Path | None = None,
    extra: ExtraRows | None = None,
    publish: promotion.Publish | None = None,
    spec: ModelSpec | None = None,
) -> PipelineResult:
    """Run the configured job end to end and return what it produced (see the module docstring).

    ``on_progress(stage, epoch, progress)`` is called as work advances; ``checkpoint`` also
    saves the trained network there (for ``mlops-train export``/``optimise``); ``extra`` rows
    join the dataset's parts (the retraining worker's feedback-labelled traffic); a promotion
    is announced on ``model-events`` through ``publish`` when given (see
    :func:`mlops_common.promotion.promote`). The version is registered under ``spec.name``
    with ``spec`` (default: the digits spec of ``digits-classifier``).

    Raises:
        ParityError: the ONNX model disagrees with PyTorch (nothing is registered).
        DatasetError: the configured data cannot be loaded.
    """
    started = time.perf_counter()
    settings = settings or TrainerSettings()
    progress = on_progress or _noop
    spec = spec or default_spec(cfg)
    uri = settings.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = registry.make_client(uri)
    location = settings.artifact_location if registry.is_local_store(uri) else None
    experiment_id = registry.ensure_experiment(client, settings.experiment_name, location)

    with (
        tempfile.TemporaryDirectory(prefix="mlops-train-") as tmp_name,
        mlflow.start_run(experiment_id=experiment_id, tags=tags) as run,
    ):
        tmp = Path(tmp_name)
        progress("data", None, 0.0)
        split, manifest = load_data(cfg)
        if extra is not None and len(extra):
            split, manifest = add_rows(split, manifest, extra)
        slices = _test_slices(split, extra)
        mlflow.log_params(flat_params(cfg))
        mlflow.log_text(to_yaml(cfg), "config/config.yaml")
        mlflow.log_text(manifest.to_json(), "data/manifest.json")
        mlflow.set_tags({"data_hash": manifest.content_hash, "data_source": manifest.source})

        trained = _train_and_log(cfg, (split, manifest), settings, progress, tmp)
        if checkpoint is not None:
            save_checkpoint(trained.network, cfg, checkpoint)
        progress("evaluate", None, 0.0)
        metrics = _evaluate_and_log(trained.network, split, slices, manifest.classes)
        model, parity = _export_and_check(cfg, trained.network, split, tmp / "model.onnx", progress)
        registered = bool(registry.versions_newest_first(client, spec.name))
        spec = spec_for(spec, trained.network, manifest.classes, registered=registered)
        log_reference(cfg, trained.network, split, spec, tmp / "model.onnx")
        log_calibration(trained.network, split)
        log_spec(spec, model)
        card = model_card(cfg, manifest, metrics, parity, run.info.run_id)
        mlflow.log_text(card, "model_card.md")
        info = mlflow.onnx.log_model(
            model, name=ONNX_ARTIFACT_PATH, signature=mlflow_signature(spec)
        )

        result = PipelineResult(
            run_id=run.info.run_id,
            metrics=metrics,
            parity=parity.as_dict(),
            data_hash=manifest.content_hash,
        )
        if cfg.registry.register:
            _register_and_promote(
                cfg,
                spec.name,
                client,
                result,
                info.model_uri,
                split,
                slices,
                progress,
                tmp,
                publish,
            )
        result.duration_s = time.perf_counter() - started
        progress("done", None, 1.0)
        log.info(
            "pipeline finished",
            extra={
                "run_id": result.run_id,
                "version": result.version,
                "promoted": result.promoted,
                **result.metrics,
            },
        )
        return result
