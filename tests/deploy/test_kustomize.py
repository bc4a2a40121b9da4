"""deploy/k8s: generated from the chart, in sync; every overlay builds and passes the checks."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from autoscaling_checks import autoscaler_problems, autoscalers, pdb_problems
from deploy_checks import (
    K8S_VERSION,
    OVERLAYS,
    OVERLAYS_DIR,
    ROOT,
    container_problems,
    find_tool,
    ingress_sources,
    load_all,
    probe_port_problems,
    run,
    service_problems,
    validate_schema,
)

Build = Callable[[str], list[dict[str, Any]]]


def test_generated_kustomize_files_are_in_sync_with_the_chart() -> None:
    find_tool("helm")
    result = run([sys.executable, str(ROOT / "scripts/deploy/sync.py"), "--check"])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_and_passes_kubernetes_schema(built: Build, overlay: str) -> None:
    objs = built(overlay)
    assert len(objs) > 20
    assert {o["metadata"].get("namespace") for o in objs} == {"mlops"}
    assert validate_schema(objs, K8S_VERSION) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_workloads_are_probed_limited_and_locked_down(built: Build, overlay: str) -> None:
    objs = built(overlay)
    assert container_problems(objs) == []
    assert probe_port_problems(objs) == []
    assert service_problems(objs) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_lets_only_the_gateway_reach_inference(built: Build, overlay: str) -> None:
    peers = ingress_sources(built(overlay), "inference", "grpc")
    assert peers
    assert all(
        p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "gateway" for p in peers
    )


def _settings(objs: list[dict[str, Any]]) -> dict[str, str]:
    settings = next(
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "mlops-settings"
    )
    data: dict[str, str] = settings["data"]
    return data


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_serves_the_digits_model_with_process_liveness(built: Build, overlay: str) -> None:
    objs = built(overlay)
    assert _settings(objs)["INFERENCE_MODELS"] == "digits-classifier"
    deploy = next(
        o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "inference"
    )
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["grpc"]["service"] == "inference/live"
    assert container["startupProbe"]["grpc"]["service"] == "inference/live"
    assert "service" not in container["readinessProbe"]["grpc"]


def test_an_overlay_patch_sets_the_models_list(tmp_path: Path) -> None:
    """What docs/deployment.md tells kustomize users to write to serve more models."""
    (tmp_path / "models.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mlops-settings}\n"
        "data: {INFERENCE_MODELS: 'digits-classifier,iris'}\n"
    )
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{os.path.relpath(OVERLAYS_DIR / 'local', tmp_path)}]\n"
        "patches: [{path: models.yaml}]\n"
    )
    cmd = [find_tool("kubectl"), "kustomize", "--load-restrictor", "LoadRestrictionsNone"]
    result = run([*cmd, str(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert _settings(load_all(result.stdout))["INFERENCE_MODELS"] == "digits-classifier,iris"


def test_observability_component_turns_tracing_on(built: Build) -> None:
    objs = built("local")
    settings = next(
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "mlops-settings"
    )
    assert settings["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"
    names = {o["metadata"]["name"] for o in objs if o["kind"] == "Deployment"}
    assert {"otel-collector", "jaeger"} <= names


def test_gke_overlay_uses_artifact_registry_and_workload_identity(built: Build) -> None:
    objs = built("gke")
    images = {
        c["image"]
        for o in objs
        if o["kind"] in {"Deployment", "Job"}
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    ours = {
        i
        for i in images
        if i.split("/")[-1].split(":")[0]
        in {"gateway", "inference", "trainer", "drift", "frontend", "mlflow"}
    }
    assert ours
    assert all(i.startswith("europe-west1-docker.pkg.dev/") for i in ours), ours
    accounts = [o for o in objs if o["kind"] == "ServiceAccount"]
    assert all(
        "iam.gke.io/gcp-service-account" in o["metadata"].get("annotations", {}) for o in accounts
    )
    assert any(o["kind"] == "PrometheusRule" for o in objs)


def test_gke_overlay_scales_with_keda_and_pins_no_scaled_replicas(built: Build) -> None:
    objs = built("gke")
    assert set(autoscalers(objs)) == {"gateway", "inference", "worker"}
    assert autoscaler_problems(objs) == []
    assert pdb_problems(objs) == []
    assert _worker_redis_address(objs).startswith("redis.mlops.svc")
    assert any("namespaceSelector" in p for p in ingress_sources(objs, "redis", "redis"))


@pytest.mark.parametrize("component", ["hpa", "keda"])
def test_autoscaling_components_build_on_the_base_alone(tmp_path: Path, component: str) -> None:
    """Without the network-policies component the Redis rule patch is a no-op, not an error."""
    k8s = os.path.relpath(OVERLAYS_DIR.parent, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: mlops\n"
        f"resources: [{k8s}/base]\ncomponents: [{k8s}/components/{component}]\n"
    )
    cmd = [find_tool("kubectl"), "kustomize", "--load-restrictor", "LoadRestrictionsNone"]
    result = run([*cmd, str(tmp_path)])
    assert result.returncode == 0, result.stderr
    objs = load_all(result.stdout)
    assert validate_schema(objs, K8S_VERSION) == []
    assert autoscaler_problems(objs) == []
    assert not [o for o in objs if o["kind"] == "NetworkPolicy"]


def _worker_redis_address(objs: list[dict[str, Any]]) -> str:
    scaler = next(
        o for o in objs if o["kind"] == "ScaledObject" and o["metadata"]["name"] == "worker"
    )
    trigger = next(t for t in scaler["spec"]["triggers"] if t["type"] == "redis")
    return str(trigger["metadata"]["address"])
