"""docker-compose.yaml: valid for Docker Compose, the whole platform, the contract's names."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from deploy_checks import ROOT, find_tool, run

PLATFORM = {"gateway", "inference", "trainer", "drift", "frontend"}
EXPECTED = PLATFORM | {
    "worker",
    "redis",
    "mlflow",
    "prometheus",
    "grafana",
    "otel-collector",
    "jaeger",
}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The compose file as `docker-compose config` resolves it (anchors, defaults, paths)."""
    result = run([find_tool("docker-compose"), "-f", str(ROOT / "docker-compose.yaml"), "config"])
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def test_compose_config_validates_and_lists_every_part(config: dict[str, Any]) -> None:
    assert set(config["services"]) == EXPECTED


def test_every_built_image_has_its_dockerfile(config: dict[str, Any]) -> None:
    built = {name: s["build"] for name, s in config["services"].items() if "build" in s}
    assert set(built) >= PLATFORM
    for name, build in built.items():
        assert (ROOT / build["dockerfile"]).is_file(), name
        assert build["context"] == str(ROOT)


def test_worker_runs_the_trainer_image_with_celery(config: dict[str, Any]) -> None:
    worker, trainer = config["services"]["worker"], config["services"]["trainer"]
    assert worker["image"] == trainer["image"]
    assert worker["command"][:3] == ["celery", "-A", "mlops_trainer.worker"]


def test_services_are_wired_with_the_contract_names(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["gateway"]["environment"]["GATEWAY_INFERENCE_TARGET"] == "inference:8001"
    assert (
        services["inference"]["environment"]["INFERENCE_MODEL_URI"]
        == "models:/digits-classifier@production"
    )
    assert services["frontend"]["environment"]["FRONTEND_GATEWAY_URL"] == "http://gateway:8080"
    for name in ("gateway", "inference", "drift", "worker"):
        env = services[name]["environment"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"


def test_inference_serves_the_models_list(config: dict[str, Any]) -> None:
    inference = config["services"]["inference"]
    assert inference["environment"]["INFERENCE_MODELS"] == "digits-classifier"
    # Healthy once the gateway's default model serves, whatever the other models do.
    assert inference["healthcheck"]["test"][-3:] == ["grpc", "127.0.0.1:8001", "digits-classifier"]


def test_the_models_list_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCE_MODELS", "digits-classifier,iris")
    result = run([find_tool("docker-compose"), "-f", str(ROOT / "docker-compose.yaml"), "config"])
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert services["inference"]["environment"]["INFERENCE_MODELS"] == "digits-classifier,iris"


def test_platform_containers_are_read_only_and_unprivileged(config: dict[str, Any]) -> None:
    for name in PLATFORM | {"worker", "mlflow"}:
        service = config["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name


def test_monitoring_mounts_point_at_existing_files(config: dict[str, Any]) -> None:
    binds = 0
    for name in ("prometheus", "grafana", "otel-collector"):
        for volume in config["services"][name]["volumes"]:
            # docker-compose v1 writes "source:target[:mode]", v2 a mapping
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("/"):
                binds += 1
                assert (ROOT / source).exists(), source
    assert binds == 5


def _published(services: dict[str, Any]) -> dict[str, set[str]]:
    """Each service's published host addresses (``ADDRESS:HOST:CONTAINER/proto`` entries)."""
    return {
        name: {str(port).rsplit(":", 2)[0] for port in service.get("ports", [])}
        for name, service in services.items()
        if service.get("ports")
    }


def test_every_port_is_published_on_loopback_by_default(config: dict[str, Any]) -> None:
    published = _published(config["services"])
    assert {"gateway", "frontend", "redis", "mlflow", "inference", "drift"} <= set(published)
    assert all(addresses == {"127.0.0.1"} for addresses in published.values()), published


def test_the_publish_address_opens_only_the_parts_with_keys_or_a_login(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLOPS_PUBLISH_ADDRESS", "0.0.0.0")
    result = run([find_tool("docker-compose"), "-f", str(ROOT / "docker-compose.yaml"), "config"])
    assert result.returncode == 0, result.stderr
    published = _published(yaml.safe_load(result.stdout)["services"])
    opened = {name for name, addresses in published.items() if addresses != {"127.0.0.1"}}
    assert opened == {"gateway", "frontend", "grafana"}


def test_drift_takes_the_gateways_key_and_the_frontend_holds_none(config: dict[str, Any]) -> None:
    services = config["services"]
    sent = services["gateway"]["environment"]["GATEWAY_DRIFT_API_KEY"]
    assert sent
    assert services["drift"]["environment"]["DRIFT_ADMIN_API_KEYS"] == sent
    assert "FRONTEND_ADMIN_API_KEY" not in services["frontend"]["environment"]
