"""The LightningDataModule over a :class:`~mlops_trainer.data.Split`."""

from __future__ import annotations

import lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from mlops_trainer.data import Features, Labels, Split


class DigitsDataModule(pl.LightningDataModule):
    """Serves the train/val/test parts of a split as tensors; loader options are configurable."""

    def __init__(
        self,
        split: Split,
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
    ) -> None:
        super().__init__()
        self.split = split
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        # Persistent workers only mean something when there are workers.
        self.persistent_workers = persistent_workers and num_workers > 0

    @staticmethod
    def _dataset(x: Features, y: Labels) -> TensorDataset:
        return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))

    def _loader(
        self, x: Features, y: Labels, *, shuffle: bool
    ) -> DataLoader[tuple[torch.Tensor, ...]]:
        return DataLoader(
            self._dataset(x, y),
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers,
        )

    def train_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        """Shuffled training batches (the order follows the global seed)."""
        return self._loader(self.split.x_train, self.split.y_train, shuffle=True)

    def val_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        """Validation batches in a fixed order."""
        return self._loader(self.split.x_val, self.split.y_val, shuffle=False)

    def test_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        """Test batches in a fixed order."""
        return self._loader(self.split.x_test, self.split.y_test, shuffle=False)
