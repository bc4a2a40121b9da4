"""Helpers of the image tests: build the images, derive the compose file the test runs.

Nothing can be pulled on the machines these tests run on, so the derived compose file differs from
docker-compose.yaml in what that requires, and only there:
- the built images replace `build:` (they are built before, with the local base image);
- Redis runs from an image made here (Debian's redis-server on the same local base), since
  redis:7.4-alpine cannot be pulled;
- Prometheus, Grafana, the OpenTelemetry collector and Jaeger are left out (images from a
  registry), with the OTLP endpoint that points at the collector;
- the engine runs without a bridge (`dockerd --bridge=none`), so every container uses the host's
  network, on free ports, bound to 127.0.0.1; the service names in URLs become 127.0.0.1:<port>.
Everything else (commands, environment, health checks, read-only root, dropped capabilities,
volumes, start order) is the file's own.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_common.testing.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "deploy/docker/Dockerfile"
SERVICES = ["gateway", "inference", "drift", "frontend", "trainer"]
#: image name → (Dockerfile, build args beyond PYTHON_IMAGE)
IMAGES: dict[str, tuple[str, dict[str, str]]] = {
    **{s: (DOCKERFILE, {"SERVICE": s}) for s in SERVICES},
    "mlflow": ("deploy/mlflow/Dockerfile", {}),
}
SKIPPED = ["prometheus", "grafana", "otel-collector", "jaeger"]
REDIS_IMAGE = "mlops-test/redis:bookworm"
PROJECT = "mlops-imgtest"
TAG = "imgtest"
REGISTRY = "mlops"
#: port variables of the platform → the port the compose file uses
PORTS = {
    "REDIS": 6379,
    "MLFLOW": 5000,
    "INFERENCE": 8001,
    "INFERENCE_METRICS": 8002,
    "GATEWAY": 8080,
    "DRIFT": 8090,
    "FRONTEND": 8501,
    "WORKER_METRICS": 8091,
}


def image_ref(name: str) -> str:
    return f"{REGISTRY}/{name}:{TAG}"


def docker(
    *args: str, timeout: float = 1800, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI with the classic builder (what Debian 12's engine and any other build)."""
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


@dataclass
class Build:
    """One image build: how long it took, how big the context and the image are."""

    name: str
    seconds: float
    context_bytes: int
    size_bytes: int


_UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}


def build(name: str, base_image: str) -> Build:
    """Build image `name` from the repository root; Build with its timings and sizes."""
    dockerfile, args = IMAGES[name]
    command = ["build", "--network", "host", "--force-rm", "-f", dockerfile, "-t", image_ref(name)]
    if name == "trainer" and os.environ.get("TORCH_INDEX_URL"):
        args = {**args, "TORCH_INDEX_URL": os.environ["TORCH_INDEX_URL"]}
    for key, value in {"PYTHON_IMAGE": base_image, **args}.items():
        command += ["--build-arg", f"{key}={value}"]
    started = time.monotonic()
    result = docker(*command, str(ROOT))
    seconds = time.monotonic() - started
    sent = re.search(
        r"Sending build context to Docker daemon\s+([\d.]+)\s*([kKMG]?B)", result.stdout
    )
    context = int(float(sent.group(1)) * _UNITS[sent.group(2)]) if sent else -1
    return Build(name, seconds, context, image_size(name))


def image_size(name: str) -> int:
    return int(docker("image", "inspect", "-f", "{{.Size}}", image_ref(name)).stdout.strip())


def build_redis(base_image: str) -> None:
    """A Redis image on the local base (redis:7.4-alpine cannot be pulled); kept between runs."""
    if docker("image", "inspect", REDIS_IMAGE, check=False).returncode == 0:
        return
    dockerfile = (
        f"FROM {base_image}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends redis-server "
        "&& rm -rf /var/lib/apt/lists/*\n"
        "WORKDIR /data\n"
        'CMD ["redis-server"]\n'
    )
    subprocess.run(
        ["docker", "build", "--network", "host", "--force-rm", "-t", REDIS_IMAGE, "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )


@dataclass
class Platform:
    """The derived compose file and the ports its services listen on."""

    file: Path
    ports: dict[str, int]
    config: dict[str, Any] = field(default_factory=dict)

    def url(self, port: str) -> str:
        return f"http://127.0.0.1:{self.ports[port]}"

    def logs(self, service: str, tail: int = 80) -> str:
        """The last lines `service` logged, for failure messages."""
        return self.compose("logs", "--no-color", "--tail", str(tail), service).stdout

    def compose(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker-compose", "-p", PROJECT, "-f", str(self.file), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def resolved_compose() -> dict[str, Any]:
    """docker-compose.yaml as `docker-compose config` resolves it, with the test's image tag."""
    env = {**os.environ, "MLOPS_TAG": TAG, "MLOPS_REGISTRY": REGISTRY}
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yaml"), "config"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def derive(
    config: dict[str, Any], extra_env: dict[str, dict[str, str]]
) -> tuple[dict[str, Any], dict[str, int]]:
    """The compose config to run here (see the module's docstring) and the ports it uses."""
    ports = {name: free_port() for name in PORTS}
    hosts = {
        "redis:6379": f"127.0.0.1:{ports['REDIS']}",
        "mlflow:5000": f"127.0.0.1:{ports['MLFLOW']}",
        "inference:8001": f"127.0.0.1:{ports['INFERENCE']}",
        "drift:8090": f"127.0.0.1:{ports['DRIFT']}",
        "gateway:8080": f"127.0.0.1:{ports['GATEWAY']}",
    }
    own_port = {  # variable → port key, for the services that read a port from their env
        "GATEWAY_PORT": "GATEWAY",
        "INFERENCE_PORT": "INFERENCE",
        "INFERENCE_METRICS_PORT": "INFERENCE_METRICS",
        "DRIFT_PORT": "DRIFT",
        "FRONTEND_PORT": "FRONTEND",
        "TRAINER_WORKER_METRICS_PORT": "WORKER_METRICS",
    }
    loopback = {  # the images open these to all interfaces; on the host's network, loopback only
        "gateway": "GATEWAY_HOST",
        "inference": "INFERENCE_HOST",
        "drift": "DRIFT_HOST",
        "frontend": "FRONTEND_HOST",
        "worker": "TRAINER_WORKER_METRICS_HOST",
    }

    def rewrite(text: str) -> str:
        for old, new in hosts.items():
            text = text.replace(old, new)
        return text

    services: dict[str, Any] = {}
    for name, service in config["services"].items():
        if name in SKIPPED:
            continue
        service = dict(service)
        service.pop("build", None)
        service.pop("ports", None)
        service["network_mode"] = "host"
        env = {k: rewrite(str(v)) for k, v in (service.get("environment") or {}).items()}
        for key in [k for k in env if k.startswith("OTEL_EXPORTER_OTLP_")]:
            del env[key]  # the collector is one of the skipped services
        for variable, key in own_port.items():
            if variable in env:
                env[variable] = str(ports[key])
        if name in loopback:
            env[loopback[name]] = "127.0.0.1"
        env.update(extra_env.get(name, {}))
        service["environment"] = env
        depends = service.get("depends_on")
        if isinstance(depends, dict):
            service["depends_on"] = {k: v for k, v in depends.items() if k not in SKIPPED}
        elif isinstance(depends, list):
            service["depends_on"] = [k for k in depends if k not in SKIPPED]
        check = service.get("healthcheck") or {}
        if isinstance(check.get("test"), list):
            check["test"] = [_port_in(rewrite(str(t)), ports) for t in check["test"]]
        services[name] = service

    redis = services["redis"]
    redis["image"] = REDIS_IMAGE
    redis["command"] = [*redis["command"], "--port", str(ports["REDIS"]), "--bind", "127.0.0.1"]
    redis["healthcheck"]["test"] = ["CMD", "redis-cli", "-p", str(ports["REDIS"]), "ping"]
    mlflow = services["mlflow"]
    mlflow["environment"]["MLFLOW_PORT"] = str(ports["MLFLOW"])
    mlflow["command"] = [
        "sh",
        "-c",
        'exec mlflow server --host 127.0.0.1 --port "$$MLFLOW_PORT" --workers "$$MLFLOW_WORKERS" '
        "--serve-artifacts",  # $$: compose would interpolate $VAR itself
    ]
    derived = {k: v for k, v in config.items() if k != "services"}
    derived["services"] = services
    derived["volumes"] = {
        k: v
        for k, v in (config.get("volumes") or {}).items()
        if not k.startswith(("prometheus", "grafana"))
    }
    return derived, ports


def _port_in(text: str, ports: dict[str, int]) -> str:
    """A health-check word, the compose file's fixed loopback ports replaced by the free ones."""
    for key, default in PORTS.items():
        text = re.sub(rf"127\.0\.0\.1:{default}\b", f"127.0.0.1:{ports[key]}", text)
    return text
