"""Hydra config: composes from code, overrides apply, every group option instantiates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from torch import nn

from mlops_trainer.config import compose_config, flat_params, to_yaml
from mlops_trainer.settings import TrainerSettings, default_conf_dir


def test_default_config_composes() -> None:
    cfg = compose_config()
    assert cfg.data.source == "digits"
    assert cfg.model._target_ == "mlops_trainer.models.DigitsCNN"
    assert cfg.registry.register is True
    assert "hydra" not in cfg
    assert "model.width: 32" not in to_yaml(cfg)  # nested YAML, not dotted
    assert flat_params(cfg)["model.width"] == "32"


def test_overrides_apply() -> None:
    cfg = compose_config(["model=cnn_large", "optimizer=sgd", "optimizer.lr=0.1", "seed=7"])
    assert cfg.model.width == 96
    assert cfg.optimizer._target_ == "torch.optim.SGD"
    assert cfg.optimizer.lr == 0.1
    assert cfg.seed == 7


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigCompositionException):
        compose_config(["model=nope"])


def test_missing_config_folder_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="TRAINER_CONF_DIR"):
        compose_config(conf_dir=tmp_path)


@pytest.mark.parametrize("model", ["cnn", "cnn_large", "tiny"])
@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_every_group_option_instantiates(model: str, optimizer: str) -> None:
    cfg = compose_config([f"model={model}", f"optimizer={optimizer}"])
    network = instantiate(cfg.model)
    assert isinstance(network, nn.Module)
    assert instantiate(cfg.optimizer)(network.parameters()).param_groups


def test_trainer_and_data_options() -> None:
    assert compose_config(["trainer=ddp_cpu"]).trainer.devices == 2
    assert compose_config(["trainer=fast"]).trainer.max_epochs < 10
    assert compose_config(["data=folder"]).data.source == "folder"
    assert compose_config(["data=prepared"]).data.batch_size == 64


def test_settings_read_their_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("TRAINER_EXPERIMENT_NAME", "exp-x")
    monkeypatch.setenv("MLOPS_STATE_DIR", "/tmp/state-x")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = TrainerSettings()
    assert settings.experiment_name == "exp-x"
    assert settings.conf_dir == default_conf_dir()
    assert settings.tracking_uri == "sqlite:////tmp/state-x/mlflow/mlflow.db"
    assert str(settings.artifact_location) == "/tmp/state-x/mlflow/artifacts"
