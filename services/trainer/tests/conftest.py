"""Shared fixtures of the trainer tests: the digits split and fast configs."""

from __future__ import annotations

import logging

import pytest
from omegaconf import DictConfig

from mlops_trainer.config import compose_config
from mlops_trainer.data import Manifest, Split, load_split

#: A config that trains in a few seconds (tiny network, 2 epochs, no progress bar).
FAST_OVERRIDES = ["model=tiny", "trainer=fast", "trainer.max_epochs=2", "reference.rows=50"]


@pytest.fixture(autouse=True)
def _quiet_lightning() -> None:
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def digits_split() -> tuple[Split, Manifest]:
    """The default split of scikit-learn's digits (seed 42)."""
    return load_split("digits", seed=42, val_fraction=0.1, test_fraction=0.2)


@pytest.fixture
def fast_overrides() -> list[str]:
    """Overrides of a config that trains in seconds."""
    return list(FAST_OVERRIDES)


@pytest.fixture
def fast_cfg() -> DictConfig:
    """The fast config."""
    return compose_config(FAST_OVERRIDES)
