"""The ``mlops-train`` commands that need no training: prepare, export, evaluate, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import DictConfig

from mlops_trainer.checkpoint import load_checkpoint, save_checkpoint
from mlops_trainer.cli import main
from mlops_trainer.models import DigitsCNN


def test_prepare_export_evaluate(
    tmp_path: Path, fast_cfg: DictConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prepare", "--output", str(tmp_path / "prepared")]) == 0
    manifest = json.loads((tmp_path / "prepared" / "manifest.json").read_text())
    assert manifest["sizes"] == {"train": 1257, "val": 180, "test": 360}

    checkpoint = tmp_path / "model.pt"
    save_checkpoint(instantiate(fast_cfg.model), fast_cfg, checkpoint)
    network, cfg = load_checkpoint(checkpoint)
    assert cfg.model.width == fast_cfg.model.width
    assert isinstance(network, DigitsCNN)

    onnx_path = tmp_path / "model.onnx"
    assert main(["export", "--checkpoint", str(checkpoint), "--output", str(onnx_path)]) == 0
    capsys.readouterr()
    metrics = tmp_path / "metrics.json"
    args = ["evaluate", "--model", str(onnx_path), "--metrics", str(metrics)]
    args += ["data=prepared", f"data.path={tmp_path / 'prepared' / 'digits.npz'}"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["data_hash"] == manifest["content_hash"]
    assert json.loads(metrics.read_text())["test_accuracy"] == printed["test_accuracy"]


def test_errors_exit_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--checkpoint", str(tmp_path / "no.pt"), "--output", "x.onnx"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["prepare", "data=folder", f"data.path={tmp_path}", "--output", "x"]) == 2
    assert "no images" in capsys.readouterr().err
