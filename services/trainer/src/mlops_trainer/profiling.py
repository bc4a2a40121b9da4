"""Optional profiling of a training run: a torch profiler trace (TensorBoard) and a cProfile file.

Both land in a folder the pipeline logs as run artifacts (``profile/``); open the trace with
``tensorboard --logdir <folder>/torch`` and the ``.prof`` file with ``snakeviz``.
"""

from __future__ import annotations

import cProfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as pl
from lightning.pytorch.callbacks import Callback
from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler

CPROFILE_FILE = "train.prof"
TORCH_TRACE_DIR = "torch"


class _ProfilerStep(Callback):
    """Advances the torch profiler's schedule once per training batch."""

    def __init__(self, profiler: profile) -> None:
        self.profiler = profiler

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any
    ) -> None:
        self.profiler.step()


@contextmanager
def profiled(enabled: bool, folder: Path) -> Iterator[list[Callback]]:
    """Profile the enclosed training when ``enabled``; yields the callbacks to give the trainer.

    The torch profiler records a few steps after a short warm-up (``wait=1, warmup=1,
    active=3``); cProfile covers the whole block.
    """
    if not enabled:
        yield []
        return
    folder.mkdir(parents=True, exist_ok=True)
    torch_profiler = profile(
        activities=[ProfilerActivity.CPU],
        schedule=schedule(wait=1, warmup=1, active=3, repeat=1),
        on_trace_ready=tensorboard_trace_handler(str(folder / TORCH_TRACE_DIR)),
        record_shapes=True,
        profile_memory=True,
    )
    python_profiler = cProfile.Profile()
    with torch_profiler:
        python_profiler.enable()
        try:
            yield [_ProfilerStep(torch_profiler)]
        finally:
            python_profiler.disable()
            python_profiler.dump_stats(str(folder / CPROFILE_FILE))
