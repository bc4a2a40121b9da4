"""Autoscaling (KEDA, HPA, none), disruption budgets and topology spread, in chart and kustomize.

The KEDA triggers must point at what the services really expose: the Celery queue's name from
mlops_common.jobs, the metric names inference and the worker register, the Redis and Prometheus
the chart wires. Those are read from the sources here, so a rename on either side fails a test.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from autoscaling_checks import (
    autoscaler_problems,
    autoscalers,
    deployments,
    pdb_problems,
    spread_problems,
)
from deploy_checks import (
    K8S_VERSION,
    RENDERS,
    ROOT,
    find_tool,
    helm_template,
    ingress_sources,
    load_all,
    run,
    validate_schema,
)

Objs = list[dict[str, Any]]
Render = Callable[[str], Objs]
Build = Callable[[str], Objs]
MODES = {
    "gke-keda": ({"gateway", "inference", "worker"}, "ScaledObject"),
    "gke-hpa": ({"gateway", "inference"}, "HorizontalPodAutoscaler"),
    "gke-none": (set(), None),
}
PROMQL_METRIC = re.compile(r"([a-z_:]+)\{")


def _assigned_string(path: Path, name: str) -> str:
    """The string a module assigns to `name` at top level (read from the source, not imported)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                assert isinstance(node.value, ast.Constant)
                return str(node.value.value)
    raise AssertionError(f"{name} not assigned in {path}")


def _exported_metrics(path: Path) -> set[str]:
    """Series names a metrics module exposes (counters get _total, histograms _sum/_count)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (
            isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
        ):
            continue
        kind = getattr(node.func, "id", getattr(node.func, "attr", ""))
        name = str(node.args[0].value)
        if kind == "Gauge":
            names.add(name)
        elif kind == "Counter":
            names.add(f"{name}_total")
        elif kind in {"Histogram", "latency_histogram"}:
            names |= {f"{name}_sum", f"{name}_count", f"{name}_bucket"}
    return names


def _triggers(objs: Objs, name: str) -> dict[str, dict[str, Any]]:
    scaler = next(o for o in objs if o["kind"] == "ScaledObject" and o["metadata"]["name"] == name)
    return {t.get("name", t["type"]): t for t in scaler["spec"]["triggers"]}


def _render(sets: list[str], args: list[str] | None = None) -> Objs:
    result = helm_template(["values-gke.yaml"], sets, args)
    assert result.returncode == 0, result.stderr
    return load_all(result.stdout)


@pytest.mark.parametrize("name", list(MODES))
def test_each_mode_renders_its_own_autoscalers_and_nothing_else(
    rendered: Render, name: str
) -> None:
    objs = rendered(name)
    scaled, kind = MODES[name]
    found = autoscalers(objs)
    assert set(found) == scaled
    assert {s["kind"] for scalers in found.values() for s in scalers} <= {kind}
    unscaled = set(deployments(objs)) - scaled
    assert all("replicas" in deployments(objs)[d]["spec"] for d in unscaled)


@pytest.mark.parametrize("name", list(RENDERS))
def test_no_deployment_has_two_autoscalers_or_pins_replicas_under_one(
    rendered: Render, name: str
) -> None:
    assert autoscaler_problems(rendered(name)) == []


@pytest.mark.parametrize("api", ["keda.sh/v1alpha1/ScaledObject", "keda.sh/v1alpha1"])
def test_auto_mode_follows_the_clusters_api_versions(api: str) -> None:
    with_keda = _render([], ["--api-versions", api])
    assert {
        o["kind"] for o in with_keda if o["kind"] in {"ScaledObject", "HorizontalPodAutoscaler"}
    } == {"ScaledObject"}
    assert {o["kind"] for o in _render([]) if "Autoscaler" in o["kind"]} == {
        "HorizontalPodAutoscaler"
    }


def test_a_service_may_override_the_global_mode() -> None:
    objs = _render(["autoscaling.mode=keda", "gateway.autoscaling.mode=hpa"])
    kinds = {name: [s["kind"] for s in scalers] for name, scalers in autoscalers(objs).items()}
    assert kinds == {
        "gateway": ["HorizontalPodAutoscaler"],
        "inference": ["ScaledObject"],
        "worker": ["ScaledObject"],
    }
    assert autoscaler_problems(objs) == []


def test_an_unknown_mode_is_refused() -> None:
    result = helm_template([], ["autoscaling.mode=kedah"])
    assert result.returncode != 0
    assert "must be none, hpa, keda or auto" in result.stderr


def test_scaledobjects_pass_kedas_crd_schema_and_a_wrong_one_does_not(rendered: Render) -> None:
    scalers = [o for o in rendered("gke-keda") if o["kind"] == "ScaledObject"]
    assert len(scalers) == 3
    assert validate_schema(scalers, K8S_VERSION) == []
    bad = copy.deepcopy(scalers[0])
    bad["spec"]["triggers"][0]["metadata"]["value"] = 70  # metadata values are strings
    bad["spec"]["maxReplicas"] = 3  # an HPA field, not KEDA's
    errors = validate_schema([bad], K8S_VERSION)
    assert any("70 is not of type 'string'" in e for e in errors), errors
    assert any("maxReplicas" in e for e in errors), errors


def test_worker_scales_on_the_celery_queue_of_the_charts_redis() -> None:
    objs = _render(["autoscaling.mode=keda"], ["--namespace", "mlops"])
    queue = _assigned_string(ROOT / "libs/common/src/mlops_common/jobs.py", "RETRAIN_QUEUE")
    redis = _triggers(objs, "worker")["retrain-queue"]
    assert redis["type"] == "redis"
    assert redis["metadata"]["listName"] == queue
    service = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "redis")
    port = service["spec"]["ports"][0]["port"]
    assert redis["metadata"]["address"] == f"redis.mlops.svc.cluster.local:{port}"
    settings = next(
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "mlops-settings"
    )
    assert settings["data"]["REDIS_URL"].endswith("/" + redis["metadata"]["databaseIndex"])
    scaler = next(
        o for o in objs if o["kind"] == "ScaledObject" and o["metadata"]["name"] == "worker"
    )
    # retraining is single-flight: one worker at most, none while no job waits or runs
    assert (scaler["spec"]["minReplicaCount"], scaler["spec"]["maxReplicaCount"]) == (0, 1)


def test_an_external_redis_url_gives_keda_its_host_database_and_tls() -> None:
    sets = [
        "autoscaling.mode=keda",
        "redis.enabled=false",
        "redis.externalUrl=rediss://10.0.0.3:6380/2",
    ]
    meta = _triggers(_render(sets), "worker")["retrain-queue"]["metadata"]
    assert (meta["address"], meta["databaseIndex"], meta["enableTLS"]) == (
        "10.0.0.3:6380",
        "2",
        "true",
    )


def test_prometheus_triggers_query_metrics_the_services_export(rendered: Render) -> None:
    objs = rendered("gke-keda")
    exported = {
        "inference": _exported_metrics(ROOT / "services/inference/src/mlops_inference/metrics.py"),
        "worker": _exported_metrics(ROOT / "services/trainer/src/mlops_trainer/worker_metrics.py"),
    }
    assert "inference_queue_depth" in exported["inference"]
    monitors = {o["metadata"]["name"] for o in objs if o["kind"] == "ServiceMonitor"}
    address = "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
    queries = 0
    for service, metrics in exported.items():
        for trigger in _triggers(objs, service).values():
            if trigger["type"] != "prometheus":
                continue
            queries += 1
            query = trigger["metadata"]["query"]
            assert set(PROMQL_METRIC.findall(query)) <= metrics, query
            assert f'job="{service}"' in query, query
            assert 'namespace="default"' in query, query  # the release's namespace
            assert service in monitors  # the job label comes from its ServiceMonitor
            assert trigger["metadata"]["serverAddress"] == address
            assert float(trigger["metadata"]["threshold"]) > 0
    assert queries == 3


def test_the_scalers_promql_parses(rendered: Render, tmp_path: Path) -> None:
    """promtool checks each query as the expression of a recording rule."""
    rules = [
        {"record": f"keda:{o['metadata']['name']}:{i}", "expr": t["metadata"]["query"]}
        for o in rendered("gke-keda")
        if o["kind"] == "ScaledObject"
        for i, t in enumerate(o["spec"]["triggers"])
        if t["type"] == "prometheus"
    ]
    path = tmp_path / "keda-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "keda", "rules": rules}]}))
    result = run([find_tool("promtool"), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_redis_admits_kedas_operator_only_when_keda_scales_the_worker(rendered: Render) -> None:
    def operator_peers(objs: Objs) -> list[dict[str, Any]]:
        return [p for p in ingress_sources(objs, "redis", "redis") if "namespaceSelector" in p]

    peers = operator_peers(rendered("gke-keda"))
    assert peers == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "keda-operator"}},
        }
    ]
    assert operator_peers(rendered("gke-hpa")) == []


@pytest.mark.parametrize("name", list(RENDERS))
def test_disruption_budgets_select_their_own_pods_of_two_or_more(
    rendered: Render, name: str
) -> None:
    assert pdb_problems(rendered(name)) == []


@pytest.mark.parametrize("name", ["gke", "gke-keda", "gke-hpa", "gke-none"])
def test_replicated_services_have_a_budget_and_spread_over_zones_and_nodes(
    rendered: Render, name: str
) -> None:
    objs = rendered(name)
    budgets = {o["metadata"]["name"] for o in objs if o["kind"] == "PodDisruptionBudget"}
    assert budgets == {"gateway", "inference", "frontend"}
    assert spread_problems(objs, ["gateway", "inference", "frontend"]) == []


def test_a_single_pod_gets_no_budget(rendered: Render) -> None:
    objs = _render(
        ["frontend.replicas=1", "inference.autoscaling.minReplicas=1", "autoscaling.mode=hpa"]
    )
    budgets = {o["metadata"]["name"] for o in objs if o["kind"] == "PodDisruptionBudget"}
    assert budgets == {"gateway"}
    assert not [o for o in rendered("local") if o["kind"] == "PodDisruptionBudget"]


def test_the_checks_catch_a_duplicate_autoscaler_pinned_replicas_and_a_stray_budget(
    rendered: Render,
) -> None:
    objs = copy.deepcopy(rendered("gke-keda"))
    hpa = next(o for o in rendered("gke-hpa") if o["kind"] == "HorizontalPodAutoscaler")
    deployments(objs)[hpa["metadata"]["name"]]["spec"]["replicas"] = 2
    problems = autoscaler_problems([*objs, hpa])
    assert any("several autoscalers" in p for p in problems), problems
    assert any("pins replicas" in p for p in problems), problems
    pdb = next(o for o in objs if o["kind"] == "PodDisruptionBudget")
    pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "drift"
    assert any("of one pod" in p for p in pdb_problems(objs))
    gateway = deployments(objs)["gateway"]["spec"]["template"]["spec"]
    gateway["topologySpreadConstraints"][0]["whenUnsatisfiable"] = "DoNotSchedule"
    assert spread_problems(objs, ["gateway"]) == [
        "Deployment/gateway: topology.kubernetes.io/zone is not ScheduleAnyway"
    ]
