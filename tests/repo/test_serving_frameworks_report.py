"""The serving-frameworks benchmark's pure parts: same-round ratios, the issue's checks, the
median table, and the files it writes for MLServer (``benchmarks/_frameworks_*.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

import _frameworks_report as rep  # noqa: E402
import _frameworks_targets as targets  # noqa: E402
from _gateway_report import Cell  # noqa: E402

pytestmark = pytest.mark.unit


def _cell(rps: float, p50_ms: float = 1.0, **cpu_us: float) -> Cell:
    return Cell(rps=rps, p50_ms=p50_ms, p99_ms=p50_ms * 2, mean_ms=p50_ms, cpu_us=cpu_us)


def _round(rest_rps: float, *, rest_p50: float = 2.0, rest_cpu: float = 200.0) -> rep.Round:
    cells: rep.Round = {}
    for c in (1, 32, 64):
        cells[("rest", c)] = _cell(
            rest_rps, rest_p50, gateway=rest_cpu, inference=rest_cpu, redis=rest_cpu / 2
        )
        cells[("grpc", c)] = _cell(1000.0, 1.0, inference=100.0)
        cells[("mlserver", c)] = _cell(500.0, 5.0, mlserver=900.0)
        cells[("fastapi-torch", c)] = _cell(400.0, 3.0, **{"fastapi-torch": 2000.0})
        cells[("fastapi-onnx", c)] = _cell(900.0, 1.5, **{"fastapi-onnx": 700.0})
    return cells


def test_spread_is_median_and_range_of_the_same_round_values() -> None:
    rounds = [_round(800.0), _round(1000.0), _round(950.0)]
    spread = rep.Spread.over(rounds, rep.rps_ratio("rest", "grpc", 32))
    assert spread == rep.Spread(0.95, 0.8, 1.0)
    assert spread.text() == "0.95 (0.80–1.00)"


def test_spread_skips_rounds_without_the_cells_and_is_none_without_any() -> None:
    partial = _round(900.0)
    del partial[("mlserver", 32)]
    rounds = [partial, _round(1000.0)]
    assert rep.Spread.over(rounds, rep.rps_ratio("rest", "mlserver", 32)) == rep.Spread(
        2.0, 2.0, 2.0
    )
    assert rep.Spread.over([partial], rep.rps_ratio("rest", "mlserver", 32)) is None


def test_rest_cpu_adds_gateway_inference_and_redis() -> None:
    assert rep.rest_cpu_us(32)(_round(1.0, rest_cpu=200.0)) == pytest.approx(500.0)


def test_checks_are_judged_on_the_median_against_the_issue_targets() -> None:
    rounds = [_round(1000.0, rest_p50=2.0, rest_cpu=200.0)] * 3
    result = {name: met for name, _, met in rep.checks(rounds, baseline_cpu_us=1160.0)}
    assert result == {
        "REST-path CPU µs/request at c=32 ≤ 0.5 × 1160": True,  # 500 ≤ 580
        "rest ≥ 2× mlserver throughput at c=32": True,  # exactly 2
        "rest ≥ 2× mlserver throughput at c=64": True,
        "rest ≥ 2× fastapi-torch throughput at c=32": True,
        "rest ≥ 2× fastapi-torch throughput at c=64": True,
        "rest c=1 p50 ≤ fastapi-torch c=1 p50 (ratio)": True,  # 2.0 vs 3.0 ms
        "rest ≥ 0.9× grpc throughput at c=32": True,
    }
    slow = [_round(600.0, rest_p50=4.0, rest_cpu=400.0)] * 3
    assert not any(met for _, _, met in rep.checks(slow, baseline_cpu_us=1160.0))


def test_checks_without_a_target_are_not_measured() -> None:
    only_rest = [{key: cell for key, cell in _round(1000.0).items() if key[0] == "rest"}]
    result = {name: (spread, met) for name, spread, met in rep.checks(only_rest, 1160.0)}
    assert result["rest ≥ 0.9× grpc throughput at c=32"] == (None, None)
    assert result["REST-path CPU µs/request at c=32 ≤ 0.5 × 1160"][1] is True


def test_median_table_has_a_row_per_cell_with_the_rest_path_total() -> None:
    lines = rep.median_table([_round(1000.0), _round(1200.0), _round(1100.0)])
    assert len(lines) == 2 + 15
    rest_32 = next(line for line in lines if line.startswith("| rest | 32 |"))
    assert rest_32.split(" | ")[2] == "1100"
    assert "gateway 200, inference 200, redis 100 (total 500)" in rest_32
    assert lines[2].startswith("| rest | 1 |")  # by concurrency, then the order measured


def test_mlserver_settings_enable_adaptive_batching_on_free_ports(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    folder = targets.mlserver_folder(tmp_path, model, {"http": 1, "grpc": 2, "metrics": 3})
    settings = json.loads((folder / "settings.json").read_text())
    assert (settings["http_port"], settings["grpc_port"], settings["metrics_port"]) == (1, 2, 3)
    assert "parallel_workers" not in settings  # MLServer's default
    model_file = folder / targets.MLSERVER_MODEL / "model-settings.json"
    model_settings = json.loads(model_file.read_text())
    assert model_settings["implementation"] == "mlserver_runtime.DigitsOnnxRuntime"
    assert model_settings["parameters"]["uri"] == str(model)
    assert (model_settings["max_batch_size"], model_settings["max_batch_time"]) == (64, 0.002)


def test_request_bodies_and_answers_of_each_target(tmp_path: Path) -> None:
    bodies = targets.request_bodies(tmp_path)
    v2 = json.loads(bodies["v2"].read_text())["inputs"][0]
    assert (v2["shape"], v2["datatype"], len(v2["data"])) == ([1, 64], "FP32", 64)
    assert json.loads(bodies["instances"].read_text()) == {"instances": [targets.INSTANCE]}
    probabilities = [0.0] * 9 + [1.0]
    answers = {
        "rest": {"predictions": [{"probabilities": probabilities}]},
        "mlserver": {"outputs": [{"data": probabilities}]},
        "fastapi-onnx": {"probabilities": [probabilities]},
    }
    for name, answer in answers.items():
        target = targets.Target(name, "http", "http://127.0.0.1:1", body=bodies["v2"])
        assert targets.probabilities_of(target, answer) == probabilities
        assert target.loadgen_extra() == ["/v1/predict", str(bodies["v2"])]
    assert targets.Target("grpc", "grpc", "127.0.0.1:1").loadgen_extra() == []
