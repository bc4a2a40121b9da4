"""The LightningModule: loss, accuracy/F1 per stage, configured optimizer, light augmentation."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import lightning as pl
import torch
from torch import nn
from torch.nn import functional
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from mlops_common.features import IMAGE_SIDE
from mlops_common.registry import N_CLASSES

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


def random_shift(features: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Shift each 8×8 grid by up to ``max_shift`` pixels in x and y (zeros fill the border)."""
    if max_shift <= 0:
        return features
    n = features.shape[0]
    grid = features.reshape(n, 1, IMAGE_SIDE, IMAGE_SIDE)
    padded = functional.pad(grid, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2))
    rows = torch.arange(IMAGE_SIDE).unsqueeze(0) + offsets[:, :1]  # [n, 8]
    cols = torch.arange(IMAGE_SIDE).unsqueeze(0) + offsets[:, 1:]
    index = torch.arange(n)[:, None, None]
    shifted = padded[index, 0, rows[:, :, None], cols[:, None, :]]
    return shifted.reshape(n, -1)


class DigitsClassifier(pl.LightningModule):
    """Trains a network on (features, label) batches with cross-entropy and a cosine schedule."""

    def __init__(
        self,
        network: nn.Module,
        optimizer: OptimizerFactory,
        *,
        max_shift: int = 1,
        label_smoothing: float = 0.0,
        n_classes: int = N_CLASSES,
    ) -> None:
        super().__init__()
        self.network = network
        self.optimizer_factory = optimizer
        self.max_shift = max_shift
        self.label_smoothing = label_smoothing
        self.metrics = nn.ModuleDict(
            {
                f"{stage}_{name}": metric
                for stage in ("train", "val", "test")
                for name, metric in (
                    ("accuracy", MulticlassAccuracy(num_classes=n_classes, average="micro")),
                    ("f1", MulticlassF1Score(num_classes=n_classes, average="macro")),
                )
            }
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits for raw features."""
        return self.network(features)  # type: ignore[no-any-return]

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        features, labels = batch
        if stage == "train":
            features = random_shift(features, self.max_shift)
        logits = self(features)
        loss = functional.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        predictions = logits.argmax(dim=-1)
        on_step = stage == "train"
        self.log(
            f"{stage}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=not on_step,
            sync_dist=True,
        )
        for name in ("accuracy", "f1"):
            metric = self.metrics[f"{stage}_{name}"]
            assert isinstance(metric, Metric)  # nosec B101: self.metrics holds only Metric objects; narrows the type for mypy
            metric(predictions, labels)
            self.log(
                f"{stage}_{name}", metric, on_step=False, on_epoch=True, prog_bar=name == "accuracy"
            )
        return loss

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        """One optimisation step."""
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Validation metrics."""
        self._step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Test metrics."""
        self._step(batch, "test")

    def configure_optimizers(self) -> Any:
        """The configured optimizer with a cosine learning-rate decay over the run."""
        optimizer = self.optimizer_factory(self.parameters())
        max_epochs = (
            self.trainer.max_epochs
            if self.trainer.max_epochs and self.trainer.max_epochs > 0
            else 1
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
