"""Compose the Hydra config from code (jobs, tests) the same way the command line does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from mlops_trainer.settings import default_conf_dir

CONFIG_NAME = "config"


def compose_config(overrides: Sequence[str] = (), conf_dir: Path | None = None) -> DictConfig:
    """The trainer config with ``overrides`` applied (``["model=cnn_large", "seed=1"]``).

    Raises:
        FileNotFoundError: ``conf_dir`` holds no ``config.yaml``.
        hydra.errors.ConfigCompositionException: an override names an unknown group or key.
    """
    folder = (conf_dir or default_conf_dir()).resolve()
    if not (folder / f"{CONFIG_NAME}.yaml").is_file():
        raise FileNotFoundError(
            f"no Hydra config at {folder}/{CONFIG_NAME}.yaml: set TRAINER_CONF_DIR to the "
            "folder holding services/trainer/conf"
        )
    if GlobalHydra.instance().is_initialized():  # e.g. inside a @hydra.main run
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(folder), version_base="1.3", job_name="mlops-train"):
        return compose(config_name=CONFIG_NAME, overrides=list(overrides))


def to_yaml(cfg: DictConfig) -> str:
    """The fully resolved config as YAML (logged with every run)."""
    return OmegaConf.to_yaml(cfg, resolve=True)


def flat_params(cfg: DictConfig) -> dict[str, str]:
    """Dotted ``key: value`` pairs of the resolved config, for MLflow params."""
    container = OmegaConf.to_container(cfg, resolve=True)
    out: dict[str, str] = {}

    def walk(prefix: str, node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            out[prefix] = str(node)

    walk("", container)
    return out
