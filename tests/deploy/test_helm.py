"""The Helm chart: lint, render with each values file, schema-valid, secure and wired correctly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from deploy_checks import (
    CHART,
    K8S_VERSION,
    RENDERS,
    container_problems,
    find_tool,
    helm_template,
    ingress_sources,
    load_all,
    probe_port_problems,
    run,
    service_problems,
    validate_schema,
)

Render = Callable[[str], list[dict[str, Any]]]
SERVICES = ["gateway", "inference", "drift", "frontend", "worker", "mlflow", "redis"]


@pytest.mark.parametrize("values", [[], ["values-local.yaml"], ["values-gke.yaml"]])
def test_helm_lint_passes(values: list[str]) -> None:
    cmd = [find_tool("helm"), "lint", str(CHART), "--strict", "--kube-version", K8S_VERSION]
    for name in values:
        cmd += ["-f", str(CHART / name)]
    result = run(cmd)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", list(RENDERS))
def test_rendered_objects_pass_kubernetes_schema(rendered: Render, name: str) -> None:
    objs = rendered(name)
    assert len(objs) > 20
    assert validate_schema(objs, K8S_VERSION) == []


@pytest.mark.parametrize("name", list(RENDERS))
def test_every_container_has_probes_resources_and_runs_locked_down(
    rendered: Render, name: str
) -> None:
    assert container_problems(rendered(name)) == []


@pytest.mark.parametrize("name", list(RENDERS))
def test_every_probe_port_is_declared(rendered: Render, name: str) -> None:
    assert probe_port_problems(rendered(name)) == []


@pytest.mark.parametrize("name", list(RENDERS))
def test_every_service_selects_a_pod_with_its_ports(rendered: Render, name: str) -> None:
    assert service_problems(rendered(name)) == []


def test_one_deployment_service_and_account_per_service(rendered: Render) -> None:
    objs = rendered("local")
    for kind in ("Deployment", "Service", "ServiceAccount"):
        names = {o["metadata"]["name"] for o in objs if o["kind"] == kind}
        assert set(SERVICES) <= names, (kind, names)


def test_inference_uses_native_grpc_probes(rendered: Render) -> None:
    deploy = next(
        o
        for o in rendered("local")
        if o["metadata"]["name"] == "inference" and o["kind"] == "Deployment"
    )
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"]["port"] == 8001
    # A broken model must not restart the pod: liveness asks only whether the process answers.
    assert container["startupProbe"]["grpc"]["service"] == "inference/live"
    assert container["livenessProbe"]["grpc"]["service"] == "inference/live"
    assert "service" not in container["readinessProbe"]["grpc"]  # "": every model ready


def _redis_container(objs: list[dict[str, Any]]) -> dict[str, Any]:
    deploy = next(o for o in objs if o["metadata"]["name"] == "redis" and o["kind"] == "Deployment")
    container: dict[str, Any] = deploy["spec"]["template"]["spec"]["containers"][0]
    return container


def _bytes(size: str) -> float:
    units = {"gi": 2**30, "mi": 2**20, "gb": 2**30, "mb": 2**20, "kb": 2**10, "k": 2**10}
    for unit, factor in units.items():
        if size.lower().endswith(unit):
            return float(size[: -len(unit)]) * factor
    return float(size)


@pytest.mark.parametrize("name", list(RENDERS))
def test_redis_refuses_writes_before_its_memory_limit_kills_it(rendered: Render, name: str) -> None:
    container = _redis_container(rendered(name))
    command = container["command"]
    maxmemory = command[command.index("--maxmemory") + 1]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    limit = _bytes(container["resources"]["limits"]["memory"])
    assert 0.5 * limit <= _bytes(maxmemory) <= 0.85 * limit, (maxmemory, limit)


def test_redis_maxmemory_may_be_left_out() -> None:
    assert "--maxmemory" not in _redis_container(_render([], ["redis.maxmemory="]))["command"]


def _inference_env(objs: list[dict[str, Any]]) -> dict[str, str]:
    settings = next(
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "mlops-settings"
    )
    data: dict[str, str] = settings["data"]
    return data


def _render(values: list[str], sets: list[str]) -> list[dict[str, Any]]:
    result = helm_template(values, sets)
    assert result.returncode == 0, result.stderr
    return load_all(result.stdout)


@pytest.mark.parametrize("name", list(RENDERS))
def test_every_render_serves_the_digits_model_by_default(rendered: Render, name: str) -> None:
    assert _inference_env(rendered(name))["INFERENCE_MODELS"] == "digits-classifier"


def test_the_models_list_reaches_inference_models() -> None:
    objs = _render([], ["inference.models={digits-classifier,iris}"])
    assert _inference_env(objs)["INFERENCE_MODELS"] == "digits-classifier,iris"


def test_models_may_name_their_source(tmp_path: Path) -> None:
    values = tmp_path / "models.yaml"
    values.write_text(
        "inference:\n"
        "  models:\n"
        "    - digits-classifier\n"
        "    - {name: iris, uri: 'models:/iris@staging'}\n"
        "    - {name: toy}\n"
        "  readinessService: digits-classifier\n"
    )
    objs = _render([str(values)], [])
    assert _inference_env(objs)["INFERENCE_MODELS"] == (
        "digits-classifier,iris=models:/iris@staging,toy"
    )
    deploy = next(
        o for o in objs if o["metadata"]["name"] == "inference" and o["kind"] == "Deployment"
    )
    probe = deploy["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["grpc"]["service"] == "digits-classifier"


def test_a_model_entry_without_a_name_is_refused(tmp_path: Path) -> None:
    values = tmp_path / "models.yaml"
    values.write_text("inference:\n  models:\n    - {uri: 'models:/iris@staging'}\n")
    result = helm_template([str(values)], [])
    assert result.returncode != 0
    assert "inference.models: every {name, uri} entry needs a name" in result.stderr


def test_an_empty_models_list_serves_the_one_model_of_model_uri() -> None:
    data = _inference_env(_render([], ["inference.models=null"]))
    assert "INFERENCE_MODELS" not in data
    assert data["INFERENCE_MODEL_URI"] == "models:/digits-classifier@production"


def test_inference_grpc_is_reachable_only_from_the_gateway(rendered: Render) -> None:
    objs = rendered("gke")
    peers = ingress_sources(objs, "inference", "grpc")
    assert peers, "no policy admits the gateway"
    for peer in peers:
        assert set(peer) == {"podSelector"}, f"inference admits {peer}"
        assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "gateway"
    # everything is denied by default
    deny = next(
        o
        for o in objs
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "default-deny-ingress"
    )
    assert deny["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny["spec"]


def test_only_gateway_and_frontend_are_open_to_outside(rendered: Render) -> None:
    objs = rendered("gke")
    open_to_all = {
        name
        for name in SERVICES
        for port in ("http", "grpc", "redis", "metrics")
        if {} in ingress_sources(objs, name, port)
    }
    assert open_to_all == {"gateway", "frontend"}
    ingress = next(o for o in objs if o["kind"] == "Ingress")
    backends = {
        p["backend"]["service"]["name"]
        for r in ingress["spec"]["rules"]
        for p in r["http"]["paths"]
    }
    assert backends == {"gateway", "frontend"}


def test_gke_values_configure_workload_identity_hpa_and_postgres(rendered: Render) -> None:
    objs = rendered("gke")
    accounts = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ServiceAccount"}
    for name in SERVICES:
        assert "iam.gke.io/gcp-service-account" in accounts[name]["metadata"]["annotations"]
    assert accounts["mlflow"]["metadata"]["annotations"][
        "iam.gke.io/gcp-service-account"
    ].startswith("mlops-mlflow@")
    hpas = {
        o["spec"]["scaleTargetRef"]["name"] for o in objs if o["kind"] == "HorizontalPodAutoscaler"
    }
    assert hpas == {"gateway", "inference"}
    mlflow = next(
        o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "mlflow"
    )
    env = {e["name"]: e for e in mlflow["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLFLOW_BACKEND_STORE_URI"]["value"].startswith("postgresql://")
    assert env["MLFLOW_ARTIFACTS_DESTINATION"]["value"].startswith("gs://")
    assert env["MLFLOW_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-database"
    # secrets come from Secrets created outside the chart: none is rendered
    assert not [o for o in objs if o["kind"] == "Secret"]


def test_settings_configmap_carries_the_contract_env_names(rendered: Render) -> None:
    settings = next(
        o
        for o in rendered("local")
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "mlops-settings"
    )
    data = settings["data"]
    assert data["GATEWAY_INFERENCE_TARGET"] == "inference:8001"
    assert data["INFERENCE_MODEL_URI"] == "models:/digits-classifier@production"
    assert data["REDIS_URL"] == "redis://redis:6379/0"
    assert data["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    for key in (
        "INFERENCE_MODEL_NAME",
        "INFERENCE_PORT",
        "INFERENCE_METRICS_PORT",
        "INFERENCE_BATCHING",
        "INFERENCE_MAX_BATCH_SIZE",
        "GATEWAY_PORT",
        "GATEWAY_DRIFT_URL",
        "DRIFT_PORT",
        "FRONTEND_GATEWAY_URL",
    ):
        assert key in data


def test_bootstrap_job_is_a_post_install_hook(rendered: Render) -> None:
    job = next(o for o in rendered("local") if o["kind"] == "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "mlops-train",
        "bootstrap",
    ]


def test_monitoring_switches_add_servicemonitors_rule_and_dashboards(rendered: Render) -> None:
    assert not [o for o in rendered("local") if o["kind"] in {"ServiceMonitor", "PrometheusRule"}]
    objs = rendered("everything-on")
    monitors = {o["metadata"]["name"] for o in objs if o["kind"] == "ServiceMonitor"}
    assert monitors == {"gateway", "inference", "drift", "worker"}
    rule = next(o for o in objs if o["kind"] == "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert {"TargetDown", "GatewayHighErrorRate", "DriftDetected", "RetrainingFailed"} <= alerts
    boards = [
        o
        for o in objs
        if o["kind"] == "ConfigMap"
        and o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert len(boards) == 3


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["gateway.existingSecret="], "gateway admin API keys"),
        (
            ["gateway.existingSecret=", "gateway.adminApiKeys=local-admin-key"],
            "gateway.existingSecret",
        ),
        (["drift.existingSecret="], "drift service's API key"),
        (["drift.existingSecret=", "drift.apiKey=local-drift-key"], "drift.existingSecret"),
        (["mlflow.database.existingSecret="], "MLflow database password"),
        (
            ["mlflow.database.existingSecret=", "mlflow.database.password=mlflow-local"],
            "mlflow.database.password",
        ),
    ],
)
def test_production_refuses_default_secrets(sets: list[str], message: str) -> None:
    result = helm_template(["values-gke.yaml"], sets)
    assert result.returncode != 0
    assert "refusing to render" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


def test_production_accepts_explicit_strong_secrets() -> None:
    result = helm_template(
        ["values-gke.yaml"],
        [
            "gateway.existingSecret=",
            "gateway.adminApiKeys=k-9f2c1e7a",
            "drift.existingSecret=",
            "drift.apiKey=d-3b8e0f15",
            "mlflow.database.existingSecret=",
            "mlflow.database.password=p-71d0c4b2",
        ],
    )
    assert result.returncode == 0, result.stderr
    assert "kind: Secret" in result.stdout
