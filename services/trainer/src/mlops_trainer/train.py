"""Train a network from a config: data → seeded Lightning fit → test metrics.

A network with a ``prepare(texts)`` method (the news network) takes texts: its parts are turned
into its input (token ids) once, before fitting; :func:`predict_proba` does the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as pl
import numpy as np
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.strategies import DDPStrategy, Strategy
from omegaconf import DictConfig, OmegaConf
from torch import nn

from mlops_trainer.data import Manifest, Split, load_split
from mlops_trainer.datamodule import DigitsDataModule
from mlops_trainer.module import DigitsClassifier
from mlops_trainer.news_data import TEXT_SOURCES, load_text_split
from mlops_trainer.text_model import build_vocabulary

log = logging.getLogger(__name__)

#: ``(stage, epoch, progress 0..1)`` — called as work advances; the retraining worker reports it.
ProgressCallback = Callable[[str, int | None, float], None]


@dataclass
class TrainResult:
    """What training produced: the network in eval mode, its data, and its metrics."""

    network: nn.Module
    split: Split
    manifest: Manifest
    metrics: dict[str, float]
    history: list[dict[str, float]]


class _EpochReporter(Callback):
    """Forwards epoch ends to a progress callback and keeps per-epoch metrics."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.on_progress = on_progress
        self.history: list[dict[str, float]] = []

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        metrics["epoch"] = float(trainer.current_epoch)
        self.history.append(metrics)
        if self.on_progress is not None and trainer.is_global_zero:
            total = trainer.max_epochs or 1
            self.on_progress(
                "train", trainer.current_epoch + 1, (trainer.current_epoch + 1) / total
            )


def cpu_strategy(trainer_args: dict[str, Any]) -> Strategy | str:
    """DDP on CPU talks over gloo: build that strategy explicitly; anything else passes through."""
    strategy = trainer_args.get("strategy", "auto")
    if trainer_args.get("accelerator") == "cpu" and strategy in ("ddp", "ddp_spawn"):
        if strategy == "ddp_spawn":
            return DDPStrategy(process_group_backend="gloo", start_method="spawn")
        return DDPStrategy(process_group_backend="gloo", start_method="popen")
    return str(strategy)


def load_data(cfg: DictConfig) -> tuple[Split, Manifest]:
    """The split the config asks for."""
    if cfg.data.source in TEXT_SOURCES:
        columns = {
            "title_column": cfg.data.get("title_column", "title"),
            "text_column": cfg.data.get("text_column", "text"),
            "label_column": cfg.data.get("label_column", "class"),
        }
        return load_text_split(
            cfg.data.source,
            seed=int(cfg.seed),
            val_fraction=float(cfg.data.val_fraction),
            test_fraction=float(cfg.data.test_fraction),
            path=cfg.data.path,
            columns=columns if cfg.data.source == "csv" else None,
        )
    return load_split(
        cfg.data.source,
        seed=int(cfg.seed),
        val_fraction=float(cfg.data.val_fraction),
        test_fraction=float(cfg.data.test_fraction),
        path=cfg.data.path,
    )


def build_network(cfg: DictConfig, split: Split, classes: list[str] | None = None) -> nn.Module:
    """The configured network, with normalisation statistics from the training part; a text
    network gets the training part's vocabulary and the ``classes``' count."""
    if split.x_train.dtype == np.object_:
        vocabulary = build_vocabulary(
            split.x_train.tolist(),
            max_size=int(cfg.data.vocabulary.max_size),
            min_count=int(cfg.data.vocabulary.min_count),
        )
        n_classes = len(classes) if classes else int(split.y_train.max()) + 1
        text_network: nn.Module = instantiate(cfg.model, vocabulary=vocabulary, n_classes=n_classes)
        return text_network
    network: nn.Module = instantiate(cfg.model)
    set_norm = getattr(network, "set_normalisation", None)
    if callable(set_norm):
        set_norm(float(split.x_train.mean()), float(split.x_train.std()))
    return network


def train(
    cfg: DictConfig,
    *,
    on_progress: ProgressCallback | None = None,
    log_dir: Path | None = None,
    callbacks: list[Callback] | None = None,
    split: tuple[Split, Manifest] | None = None,
) -> TrainResult:
    """Fit the configured network and return it with its test metrics (same seed → same result)."""
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    data, manifest = split or load_data(cfg)
    network = build_network(cfg, data, manifest.classes)
    inputs = network_inputs(network, data)
    fit_statistics = getattr(network, "fit_statistics", None)
    if callable(fit_statistics):  # statistics of the training inputs (the news model's idf)
        fit_statistics(inputs.x_train)
    module = DigitsClassifier(
        network,
        instantiate(cfg.optimizer),
        max_shift=int(cfg.augment.max_shift),
        label_smoothing=float(cfg.augment.label_smoothing),
        n_classes=len(manifest.classes),
    )
    datamodule = DigitsDataModule(
        inputs,
        batch_size=int(cfg.data.batch_size),
        num_workers=int(cfg.data.num_workers),
        pin_memory=bool(cfg.data.pin_memory),
        persistent_workers=bool(cfg.data.persistent_workers),
    )
    reporter = _EpochReporter(on_progress)
    trainer_args: dict[str, Any] = OmegaConf.to_container(cfg.trainer, resolve=True)  # type: ignore[assignment]
    trainer_args["strategy"] = cpu_strategy(trainer_args)
    trainer = pl.Trainer(
        **trainer_args,
        logger=False,
        enable_checkpointing=False,
        default_root_dir=str(log_dir) if log_dir else None,
        callbacks=[reporter, *(callbacks or [])],
    )
    log.info(
        "training started", extra={"model": cfg.model._target_, "epochs": cfg.trainer.max_epochs}
    )
    threads = torch.get_num_threads()
    if int(cfg.get("threads", 0)) > 0:
        torch.set_num_threads(int(cfg.threads))
    try:
        trainer.fit(module, datamodule=datamodule)
    finally:
        torch.set_num_threads(threads)
    tester = pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    results = tester.test(module, datamodule=datamodule, verbose=False)[0]
    network.eval()
    metrics = {k: float(v) for k, v in results.items()}
    log.info("training finished", extra=metrics)
    return TrainResult(network, data, manifest, metrics, reporter.history)


def _inputs(network: nn.Module, x: Any) -> Any:
    prepare = getattr(network, "prepare", None)
    if callable(prepare) and isinstance(x, np.ndarray) and x.dtype == np.object_:
        return prepare(x.tolist()).numpy()
    return x


def network_inputs(network: nn.Module, split: Split) -> Split:
    """``split`` as the network takes it (texts become token ids; features stay as they are)."""
    return Split(*(array for x, y in split.parts().values() for array in (_inputs(network, x), y)))


def predict_proba(network: nn.Module, features: Any, batch_size: int = 1024) -> torch.Tensor:
    """Class probabilities of the network for its data: a float32 array ``[N, width]``, or an
    object array of texts for a text network."""
    network.eval()
    with torch.inference_mode():
        prepared = _inputs(network, features)
        dtype = torch.int64 if prepared.dtype == np.int64 else torch.float32
        x = torch.as_tensor(prepared, dtype=dtype)
        return torch.cat(
            [
                torch.softmax(network(x[i : i + batch_size]), dim=-1)
                for i in range(0, len(x), batch_size)
            ]
        )
