"""Save and load a trained network with the config that built it (for export/optimise/DVC)."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn


def save_checkpoint(network: nn.Module, cfg: DictConfig, path: Path) -> None:
    """Write the network's weights and the resolved config to ``path`` (and what rebuilds a
    network besides its config: a text network's vocabulary and class count)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    init_kwargs = getattr(network, "init_kwargs", None)
    torch.save(
        {
            "state_dict": network.state_dict(),
            "config": OmegaConf.to_yaml(cfg, resolve=True),
            "init_kwargs": init_kwargs() if callable(init_kwargs) else {},
        },
        path,
    )


def load_checkpoint(path: Path) -> tuple[nn.Module, DictConfig]:
    """Rebuild the network of a checkpoint (in eval mode) and return it with its config."""
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist: train with --save first")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    cfg = OmegaConf.create(payload["config"])
    if not isinstance(cfg, DictConfig):
        raise ValueError(f"checkpoint {path} holds no config mapping")
    network: nn.Module = instantiate(cfg.model, **payload.get("init_kwargs", {}))
    network.load_state_dict(payload["state_dict"])
    return network.eval(), cfg
