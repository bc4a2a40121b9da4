"""The object checks catch what they claim to: a check that cannot fail proves nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from deploy_checks import (
    K8S_VERSION,
    container_problems,
    ingress_sources,
    probe_port_problems,
    service_problems,
    validate_schema,
)

Render = Callable[[str], list[dict[str, Any]]]


def _gateway(objs: list[dict[str, Any]]) -> dict[str, Any]:
    found = next(
        o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "gateway"
    )
    return copy.deepcopy(found)


def test_a_broken_container_is_reported(rendered: Render) -> None:
    bad = _gateway(rendered("local"))
    container = bad["spec"]["template"]["spec"]["containers"][0]
    del container["livenessProbe"]
    del container["resources"]["limits"]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    container["readinessProbe"]["httpGet"]["port"] = "nope"
    container["unknownField"] = 1
    problems = container_problems([bad])
    assert any("livenessProbe missing" in p for p in problems)
    assert any("requests/limits" in p for p in problems)
    assert any("readOnlyRootFilesystem" in p for p in problems)
    assert probe_port_problems([bad]) == [
        "Deployment/gateway:gateway: readinessProbe uses undeclared port 'nope'"
    ]
    assert any("unknownField" in e for e in validate_schema([bad], K8S_VERSION))


def test_a_service_without_pods_and_an_open_policy_are_reported(rendered: Render) -> None:
    objs = copy.deepcopy(rendered("local"))
    service = next(
        o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "inference"
    )
    assert service_problems([service]) == ["Service/inference selects no pod"]
    policy = next(
        o for o in objs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "inference"
    )
    policy["spec"]["ingress"].append({"ports": [{"port": "grpc"}]})
    assert {} in ingress_sources(objs, "inference", "grpc")
