"""skaffold.yaml, cloudbuild.yaml, the Vertex AI job spec: parsed, complete, real files."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from deploy_checks import CHART, ROOT

IMAGES = {"gateway", "inference", "trainer", "drift", "frontend", "mlflow"}


@pytest.fixture(scope="module")
def skaffold() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    return loaded


def test_one_artifact_per_image_with_existing_dockerfile(skaffold: dict[str, Any]) -> None:
    assert skaffold["apiVersion"].startswith("skaffold/v4")
    artifacts = skaffold["build"]["artifacts"]
    assert {a["image"] for a in artifacts} == IMAGES
    for artifact in artifacts:
        assert artifact["context"] == "."
        assert (ROOT / artifact["docker"]["dockerfile"]).is_file()
    assert "gitCommit" in skaffold["build"]["tagPolicy"]


def test_helm_release_sets_every_image_the_chart_uses(skaffold: dict[str, Any]) -> None:
    release = skaffold["manifests"]["helm"]["releases"][0]
    assert (ROOT / release["chartPath"] / "Chart.yaml").is_file()
    for values in release["valuesFiles"]:
        assert (ROOT / values).is_file()
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    platform = {
        k for k, v in chart_values.items() if isinstance(v, dict) and "image" in v and k != "redis"
    }
    templates = release["setValueTemplates"]
    for key in platform:
        image = chart_values[key]["image"]["repository"]
        assert templates[f"{key}.image.repository"] == f"{{{{.IMAGE_REPO_{image}}}}}"
        assert templates[f"{key}.image.tag"].startswith(f"{{{{.IMAGE_TAG_{image}}}}}")


def test_profiles_and_port_forwards(skaffold: dict[str, Any]) -> None:
    profiles = {p["name"]: p for p in skaffold["profiles"]}
    assert set(profiles) == {"local", "gke", "debug"}
    gke_values = profiles["gke"]["patches"][0]["value"]
    assert gke_values == ["deploy/helm/mlops/values-gke.yaml"]
    assert (ROOT / gke_values[0]).is_file()
    forwarded = {f["resourceName"] for f in skaffold["portForward"]}
    assert {"gateway", "frontend", "mlflow"} <= forwarded
    assert any("grafana" in name for name in forwarded)


def test_cloudbuild_builds_and_pushes_every_image() -> None:
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    built = {}
    for step in build["steps"]:
        args = step["args"]
        assert args[0] == "build"
        assert args[-1] == "."
        dockerfile = args[args.index("-f") + 1]
        assert (ROOT / dockerfile).is_file()
        built[step["id"]] = args
    assert set(built) == IMAGES
    pushed = {image.split("/")[-1].split(":")[0] for image in build["images"]}
    assert pushed == IMAGES


def test_vertex_training_job_runs_the_trainer_image() -> None:
    spec = yaml.safe_load((ROOT / "deploy/gcp/vertex-training-job.yaml").read_text())
    pool = spec["workerPoolSpecs"][0]
    container = pool["containerSpec"]
    assert container["imageUri"].split("/")[-1].startswith("trainer:")
    assert container["command"][0] == "mlops-train"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MLFLOW_TRACKING_URI"].startswith("http")
    assert pool["replicaCount"] == 1
