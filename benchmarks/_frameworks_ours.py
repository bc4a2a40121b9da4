"""Our targets in the serving-frameworks benchmark: the REST path and direct gRPC, and the same
REST path as an earlier commit had it (``rest-before``), measured in the same rounds.

``rest-before`` runs the gateway and inference of ``--before REF`` (``git archive`` of their
sources, put ahead of this checkout's on ``PYTHONPATH``; the venv's packages serve both), so
"today's" CPU per request and throughput are taken on the same machine, under the same load, as
the current code's, rather than compared with a figure from another day.
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
from pathlib import Path

import _frameworks_targets as t

#: The sources ``rest-before`` takes from the earlier commit.
BEFORE_SOURCES = ("libs/common", "services/gateway", "services/inference")


def checkout_before(ref: str, root: Path) -> str:
    """Extract ``ref``'s sources of our services under ``root``; the PYTHONPATH that runs them."""
    dest = root / "before"
    dest.mkdir(parents=True, exist_ok=True)
    archive = root / "before.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(t.ROOT), "archive", ref, *BEFORE_SOURCES], stdout=out, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return t.python_path(*(dest / s / "src" for s in BEFORE_SOURCES))


def start_ours(
    args: argparse.Namespace,
    root: Path,
    model: Path,
    body: Path,
    procs: list[subprocess.Popen[bytes]],
    *,
    label: str = "rest",
    pythonpath: str = "",
) -> dict[str, t.Target]:
    """Start an inference service and a gateway in front of it: the targets ``label`` (REST) and,
    for the current code, ``grpc`` (the same inference service, called directly)."""
    from mlops_common.testing.servers import free_port

    wanted = {label, "grpc"} if label == "rest" else {label}
    if not wanted & set(args.targets):
        return {}
    common = t.platform_env(args.redis.url, root)
    if pythonpath:
        common["PYTHONPATH"] = pythonpath
    port, log = free_port(), root / f"{label}-inference.log"
    inference = t.start_retrying(
        lambda: t.spawn(
            [t.our_python(), "-m", "mlops_inference"],
            {**common, "INFERENCE_MODEL_URI": str(model), "INFERENCE_HOST": t.LOCAL,
             "INFERENCE_PORT": str(port), "INFERENCE_METRICS_PORT": "-1"}, log,
        ), t.port_open(port), log, procs,
    )  # fmt: skip
    targets = {}
    if label == "rest":
        groups = {"inference": inference.pid}
        targets["grpc"] = t.Target("grpc", "grpc", f"{t.LOCAL}:{port}", groups=groups)
    if label not in args.targets:
        return targets
    gw_port, log = free_port(), root / f"{label}-gateway.log"
    gateway = t.start_retrying(
        lambda: t.spawn(
            [t.our_python(), "-m", "mlops_gateway"],
            {**common, "GATEWAY_HOST": t.LOCAL, "GATEWAY_PORT": str(gw_port),
             "GATEWAY_INFERENCE_TARGET": f"{t.LOCAL}:{port}", "GATEWAY_TRAFFIC_LOGGING": "true"},
            log,
        ), t.http_ok(f"http://{t.LOCAL}:{gw_port}/readyz"), log, procs,
    )  # fmt: skip
    groups = {"gateway": gateway.pid, "inference": inference.pid, "redis": args.redis.pid}
    url = f"http://{t.LOCAL}:{gw_port}"
    targets[label] = t.Target(label, "http", url, body=body, groups=groups)
    return targets
