"""Lightning DDP on CPU: two processes over gloo, selected by a config override."""

from __future__ import annotations

import pytest
from lightning.pytorch.strategies import DDPStrategy

from mlops_trainer.config import compose_config
from mlops_trainer.train import cpu_strategy, train


@pytest.mark.slow
def test_ddp_on_cpu_with_two_processes(fast_overrides: list[str]) -> None:
    cfg = compose_config(
        [
            *fast_overrides,
            "trainer=ddp_cpu",
            "trainer.max_epochs=1",
            "trainer.enable_progress_bar=false",
        ]
    )
    strategy = cpu_strategy(dict(cfg.trainer))
    assert isinstance(strategy, DDPStrategy)
    assert strategy.process_group_backend == "gloo"
    result = train(cfg)
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0
    assert result.metrics["test_accuracy"] > 0.2  # learned something in one epoch
