"""Optimisation: int8 QDQ keeps accuracy and the interface; pruning reaches its sparsity."""

from __future__ import annotations

from pathlib import Path

import onnx
from omegaconf import DictConfig

from mlops_common.registry import ONNX_INPUT_NAME, ONNX_OUTPUT_NAME
from mlops_trainer.optimise import optimise_all
from mlops_trainer.train import train


def test_int8_and_pruned_variants(fast_cfg: DictConfig, tmp_path: Path) -> None:
    network = train(fast_cfg).network
    report = optimise_all(network, fast_cfg, tmp_path, finetune_epochs=1, sparsity=0.5)
    fp32, int8, pruned = report.variants
    assert int8.size_bytes < fp32.size_bytes  # int8 weights; the tiny net is mostly graph
    assert abs(int8.accuracy - fp32.accuracy) <= 0.02
    graph = onnx.load(str(int8.path)).graph
    assert {n.op_type for n in graph.node} >= {"QuantizeLinear", "DequantizeLinear"}
    assert [i.name for i in graph.input] == [ONNX_INPUT_NAME]
    assert [o.name for o in graph.output] == [ONNX_OUTPUT_NAME]
    assert "sparsity 50%" in pruned.note
    assert pruned.accuracy > 0.5
    assert min(v.latency_b1_ms for v in report.variants) > 0
    assert "| int8 QDQ static |" in report.markdown()
