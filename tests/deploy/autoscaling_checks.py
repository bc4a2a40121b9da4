"""Checks over rendered objects for autoscaling, disruption budgets and topology spread."""

from __future__ import annotations

from typing import Any

from deploy_checks import labels_match

AUTOSCALERS = {"HorizontalPodAutoscaler", "ScaledObject"}
SPREAD_KEYS = {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


def deployments(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Deployments by name."""
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}


def autoscalers(objs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """HPAs and ScaledObjects by the name of the Deployment they scale."""
    found: dict[str, list[dict[str, Any]]] = {}
    for obj in objs:
        if obj["kind"] in AUTOSCALERS:
            found.setdefault(obj["spec"]["scaleTargetRef"]["name"], []).append(obj)
    return found


def min_replicas(objs: list[dict[str, Any]], name: str) -> int:
    """The fewest pods the Deployment runs: its autoscaler's minimum, else its replicas."""
    for scaler in autoscalers(objs).get(name, []):
        spec = scaler["spec"]
        if scaler["kind"] == "ScaledObject":
            return int(spec.get("minReplicaCount", 0))  # KEDA's default
        return int(spec.get("minReplicas", 1))
    return int(deployments(objs)[name]["spec"].get("replicas", 1))


def autoscaler_problems(objs: list[dict[str, Any]]) -> list[str]:
    """One autoscaler per Deployment, aimed at a Deployment, which then pins no replicas."""
    problems = []
    found, deploys = autoscalers(objs), deployments(objs)
    for name, scalers in found.items():
        kinds = sorted(s["kind"] for s in scalers)
        if len(scalers) > 1:
            problems.append(f"Deployment/{name} has several autoscalers: {', '.join(kinds)}")
        for scaler in scalers:
            ref = scaler["spec"]["scaleTargetRef"]
            if ref.get("kind", "Deployment") != "Deployment" or name not in deploys:
                problems.append(
                    f"{scaler['kind']}/{scaler['metadata']['name']} scales no Deployment"
                )
        if name in deploys and "replicas" in deploys[name]["spec"]:
            problems.append(f"Deployment/{name} pins replicas while {kinds[0]} scales it")
    for name, deploy in deploys.items():
        if name not in found and "replicas" not in deploy["spec"]:
            problems.append(f"Deployment/{name} has neither replicas nor an autoscaler")
    return problems


def pdb_problems(objs: list[dict[str, Any]]) -> list[str]:
    """Every PodDisruptionBudget selects the pods of exactly one Deployment of 2+ pods."""
    problems = []
    deploys = deployments(objs)
    for pdb in (o for o in objs if o["kind"] == "PodDisruptionBudget"):
        name = pdb["metadata"]["name"]
        selector = pdb["spec"]["selector"].get("matchLabels", {})
        targets = [
            d
            for d, deploy in deploys.items()
            if selector and labels_match(selector, deploy["spec"]["template"]["metadata"]["labels"])
        ]
        if len(targets) != 1:
            problems.append(
                f"PodDisruptionBudget/{name} selects the pods of {targets or 'nothing'}"
            )
            continue
        if min_replicas(objs, targets[0]) < 2:
            problems.append(f"PodDisruptionBudget/{name} guards Deployment/{targets[0]} of one pod")
        if "minAvailable" in pdb["spec"] and "maxUnavailable" in pdb["spec"]:
            problems.append(f"PodDisruptionBudget/{name} sets minAvailable and maxUnavailable")
    return problems


def spread_problems(objs: list[dict[str, Any]], names: list[str]) -> list[str]:
    """The named Deployments spread their own pods over zones and nodes, softly."""
    problems = []
    deploys = deployments(objs)
    for name in names:
        template = deploys[name]["spec"]["template"]
        constraints = template["spec"].get("topologySpreadConstraints", [])
        keys = {c["topologyKey"] for c in constraints}
        if keys != SPREAD_KEYS:
            problems.append(f"Deployment/{name} spreads over {sorted(keys)}")
        for c in constraints:
            if c["whenUnsatisfiable"] != "ScheduleAnyway":
                problems.append(f"Deployment/{name}: {c['topologyKey']} is not ScheduleAnyway")
            if not labels_match(c["labelSelector"]["matchLabels"], template["metadata"]["labels"]):
                problems.append(f"Deployment/{name}: {c['topologyKey']} selects other pods")
    return problems
