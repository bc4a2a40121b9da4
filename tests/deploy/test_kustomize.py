"""deploy/k8s: generated from the chart, in sync; every overlay builds and passes the checks."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from deploy_checks import (
    K8S_VERSION,
    OVERLAYS,
    ROOT,
    container_problems,
    find_tool,
    ingress_sources,
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
