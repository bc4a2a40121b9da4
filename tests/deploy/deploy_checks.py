"""Helpers of the deployment tests: tools, renders, and checks over Kubernetes objects."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from keda_schema import scaledobject_errors

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "mlops"
K8S_VERSION = "1.30"
INSTALL_HINT = "run scripts/tools/install-deploy-tools.sh"


def find_tool(name: str) -> str:
    """Path of a tool from .venv/bin or PATH; fails the test with the install hint when absent."""
    local = ROOT / ".venv" / "bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}", pytrace=False)
    return found


def run(cmd: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output, never raising on a non-zero exit."""
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def load_all(text: str) -> list[dict[str, Any]]:
    """Non-empty YAML documents of a multi-document string."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def helm_template(
    values: list[str], sets: list[str] | None = None, args: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`helm template mlops deploy/helm/mlops` with values files from the chart folder."""
    cmd = [find_tool("helm"), "template", "mlops", str(CHART), "--kube-version", K8S_VERSION]
    for name in values:
        cmd += ["-f", str(CHART / name)]
    for item in sets or []:
        cmd += ["--set", item]
    return run(cmd + (args or []))


WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
CRD_GROUPS = ("monitoring.coreos.com/",)


# The renders every structural test runs over: name → values files and --set flags.
RENDERS: dict[str, tuple[list[str], list[str]]] = {
    "default": ([], []),
    "local": (["values-local.yaml"], []),
    "gke": (["values-gke.yaml"], []),
    # autoscaling.mode of the GKE values (auto renders as hpa: helm template sees no cluster).
    "gke-keda": (["values-gke.yaml"], ["autoscaling.mode=keda"]),
    "gke-hpa": (["values-gke.yaml"], ["autoscaling.mode=hpa"]),
    "gke-none": (["values-gke.yaml"], ["autoscaling.mode=none"]),
    "everything-on": (
        ["values-local.yaml"],
        [
            "autoscaling.mode=hpa",
            "gateway.autoscaling.customMetric.enabled=true",
            "monitoring.serviceMonitors.enabled=true",
            "monitoring.prometheusRule.enabled=true",
            "monitoring.dashboards.enabled=true",
            "global.otlpEndpoint=http://otel-collector:4317",
        ],
    ),
}
OVERLAYS = ["local", "gke"]
OVERLAYS_DIR = ROOT / "deploy" / "k8s" / "overlays"


def validate_schema(objs: list[dict[str, Any]], version: str) -> list[str]:
    """Schema errors of every object (kubernetes-validate, strict); KEDA's ScaledObjects are
    checked against its vendored CRD schema, other custom resources get a shape check."""
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail(f"kubernetes-validate is not installed: {INSTALL_HINT}", pytrace=False)
    errors = []
    for obj in objs:
        name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if obj.get("kind") == "ScaledObject":
            errors.extend(scaledobject_errors(obj))
            continue
        if str(obj.get("apiVersion", "")).startswith(CRD_GROUPS):
            if not isinstance(obj.get("spec"), dict) or not obj["metadata"].get("name"):
                errors.append(f"{name}: custom resource without metadata.name or spec")
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name}: {exc.message} at {'/'.join(map(str, exc.path))}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{name}: no schema for {obj.get('apiVersion')} in Kubernetes {version}")
    return errors


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload, None for other kinds."""
    if obj["kind"] not in WORKLOADS:
        return None
    return dict(obj["spec"]["template"]["spec"])


def containers(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(where, container, is_init) of every container of a workload."""
    spec = pod_spec(obj) or {}
    for init, key in ((False, "containers"), (True, "initContainers")):
        for container in spec.get(key, []):
            yield f"{obj['kind']}/{obj['metadata']['name']}:{container['name']}", container, init


def container_problems(objs: list[dict[str, Any]]) -> list[str]:
    """Probes, resources, non-root and read-only root FS on every container."""
    problems = []
    for obj in objs:
        spec = pod_spec(obj)
        if spec is None:
            continue
        pod_sc = spec.get("securityContext", {})
        for where, container, init in containers(obj):
            sc = container.get("securityContext", {})
            if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
                problems.append(f"{where}: runAsNonRoot not set")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation not false")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities not dropped")
            resources = container.get("resources", {})
            if not resources.get("requests") or not resources.get("limits"):
                problems.append(f"{where}: requests/limits missing")
            if obj["kind"] != "Job" and not init:
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in container:
                        problems.append(f"{where}: {probe} missing")
    return problems


def probe_port_problems(objs: list[dict[str, Any]]) -> list[str]:
    """Every named port a probe uses is declared by its container."""
    problems = []
    for obj in objs:
        for where, container, _ in containers(obj):
            names = {p.get("name") for p in container.get("ports", [])}
            for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe = container.get(probe_name, {})
                for handler in ("httpGet", "tcpSocket", "grpc"):
                    port = probe.get(handler, {}).get("port")
                    if isinstance(port, str) and port not in names:
                        problems.append(f"{where}: {probe_name} uses undeclared port {port!r}")
                    numbers = {p.get("containerPort") for p in container.get("ports", [])}
                    if isinstance(port, int) and port not in numbers:
                        problems.append(f"{where}: {probe_name} uses undeclared port {port}")
    return problems


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """True when every selector label is on the object."""
    return all(labels.get(k) == v for k, v in selector.items())


def service_problems(objs: list[dict[str, Any]]) -> list[str]:
    """Every Service selects a pod template whose container declares each target port."""
    problems = []
    workloads = [o for o in objs if pod_spec(o) is not None and o["kind"] != "Job"]
    for svc in (o for o in objs if o["kind"] == "Service"):
        selector = svc["spec"].get("selector", {})
        pods = [
            w
            for w in workloads
            if selector and labels_match(selector, w["spec"]["template"]["metadata"]["labels"])
        ]
        if not pods:
            problems.append(f"Service/{svc['metadata']['name']} selects no pod")
            continue
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            declared = {
                (p.get("name"), p.get("containerPort"))
                for w in pods
                for _, c, _ in containers(w)
                for p in c.get("ports", [])
            }
            if not any(target in pair for pair in declared):
                problems.append(
                    f"Service/{svc['metadata']['name']}: targetPort {target} not declared"
                )
    return problems


def policies_for(objs: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    """NetworkPolicies that select pods with these labels."""
    return [
        o
        for o in objs
        if o["kind"] == "NetworkPolicy"
        and labels_match(o["spec"]["podSelector"].get("matchLabels", {}), labels)
    ]


def ingress_sources(objs: list[dict[str, Any]], component: str, port: str) -> list[dict[str, Any]]:
    """The `from` peers allowed to reach `component` on `port` ([{}] means anyone)."""
    pod = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == component)
    labels = pod["spec"]["template"]["metadata"]["labels"]
    peers: list[dict[str, Any]] = []
    for policy in policies_for(objs, labels):
        for rule in policy["spec"].get("ingress", []):
            ports = [p.get("port") for p in rule.get("ports", [])]
            if ports and port not in ports:
                continue
            peers.extend(rule.get("from") or [{}])
    return peers
