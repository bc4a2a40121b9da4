"""Prometheus config and alert rules (promtool), rule unit tests, Grafana dashboards."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_checks import CHART, ROOT, find_tool, run

MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "prometheus" / "rules" / "mlops-alerts.yml"
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
METRIC = re.compile(r"\b((?:gateway|inference|drift|retrain|rollout)_[a-z_]+)")


def contract_metrics() -> set[str]:
    """Metric names fixed in docs/contracts.md."""
    text = (ROOT / "docs" / "contracts.md").read_text()
    section = text.split("## Prometheus metric names", 1)[1]
    return {m.split("{")[0] for m in re.findall(r"`([a-z_]+(?:\{[^}]*\})?)`", section) if "_" in m}


def used_metrics(text: str) -> set[str]:
    """Platform metric names used in a query text, without histogram suffixes."""
    return {re.sub(r"_(bucket|sum|count)$", "", m) for m in METRIC.findall(text)}


def test_promtool_checks_the_rules_and_the_chart_copy() -> None:
    promtool = find_tool("promtool")
    for rules in (RULES, CHART / "files" / "mlops-alerts.yml"):
        result = run([promtool, "check", "rules", str(rules)])
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


def test_promtool_checks_the_rules_of_the_rendered_prometheusrule(
    rendered: Callable[[str], list[dict[str, Any]]], tmp_path: Path
) -> None:
    rule = next(o for o in rendered("everything-on") if o["kind"] == "PrometheusRule")
    path = tmp_path / "rendered-rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = run([find_tool("promtool"), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    tests = MONITORING / "prometheus" / "tests" / "mlops-alerts.test.yml"
    result = run([find_tool("promtool"), "test", "rules", str(tests)], cwd=tests.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_checks_the_scrape_config(tmp_path: Path) -> None:
    config = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert jobs["gateway"] == ["gateway:8080"]
    assert jobs["inference"] == ["inference:8002"]
    assert jobs["drift"] == ["drift:8090"]
    assert jobs["worker"] == ["worker:8091"]
    config["rule_files"] = [str(RULES)]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = run([find_tool("promtool"), "check", "config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_cover_the_issue_and_use_contract_metrics() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    required = {
        "TargetDown",
        "GatewayHighErrorRate",
        "GatewayHighLatencyP99",
        "DriftDetected",
        "RetrainingFailed",
        "ModelRolledBack",
        "EstimatedAccuracyDrop",
    }
    assert required <= set(alerts)
    assert used_metrics(RULES.read_text()) <= contract_metrics()
    for alert in alerts.values():
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["summary"]


def test_contract_metric_names_are_parsed() -> None:
    names = contract_metrics()
    assert {
        "gateway_requests_total",
        "inference_batch_size",
        "drift_dataset_drift",
        "retrain_jobs_total",
    } <= names


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_is_valid_grafana_json_over_contract_metrics(path: Path) -> None:
    board = json.loads(path.read_text())
    assert board["uid"] == path.stem
    assert board["title"]
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert panels
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["datasource"]["uid"] == "prometheus"
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["targets"]
        for target in panel["targets"]:
            assert used_metrics(target["expr"]) <= contract_metrics(), target["expr"]


def test_dashboards_cover_traffic_latency_errors_batches_drift_jobs() -> None:
    rows = {
        p["title"]
        for path in DASHBOARDS
        for p in json.loads(path.read_text())["panels"]
        if p["type"] == "row"
    }
    assert {"Traffic", "Latency", "Errors", "Batch sizes", "Drift", "Jobs"} <= rows


def test_dashboards_are_what_the_generator_writes() -> None:
    script = MONITORING / "grafana" / "generate_dashboards.py"
    code = (
        f"import runpy, json; m = runpy.run_path({str(script)!r}); "
        "print(json.dumps(m['render_all']()))"
    )
    result = run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr
    expected = json.loads(result.stdout)
    assert expected == {p.name: p.read_text() for p in DASHBOARDS}


def test_grafana_provisioning_points_at_the_dashboards() -> None:
    provisioning = MONITORING / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert any(
        d["uid"] == "prometheus" and d["type"] == "prometheus" for d in datasources["datasources"]
    )
    providers = yaml.safe_load((provisioning / "dashboards" / "mlops.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
