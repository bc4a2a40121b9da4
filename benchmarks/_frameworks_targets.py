"""The serving-frameworks benchmark's targets: start each, check its answer, read its CPU time.

Every server runs in its own session (process group) with its log in the run's folder; the CPU
time of a process group is that of its root process and all its descendants (MLServer runs its
model in worker processes), read with psutil.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from _loadgen import INSTANCE

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = Path(__file__).with_name("frameworks")
TARGETS = ("rest", "grpc", "mlserver", "fastapi-torch", "fastapi-onnx", "rest-before")
MLSERVER_MODEL = "digits"
LOCAL = "127.0.0.1"


@dataclass
class Target:
    """One thing the load generators drive, and the server processes whose CPU it costs."""

    name: str
    kind: str  # the _loadgen.py kind: grpc | http
    address: str  # host:port (grpc) or http://host:port
    path: str = "/v1/predict"
    body: Path | None = None
    groups: dict[str, int] = field(default_factory=dict)  # name → root pid of a process tree

    def loadgen_extra(self) -> list[str]:
        """The optional ``PATH BODY`` arguments of ``_loadgen.py``."""
        return [self.path, str(self.body)] if self.body else []


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and every live descendant (0 when it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def spawn(
    args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` in a session of its own, output to ``log``."""
    return subprocess.Popen(
        args, env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True, cwd=cwd,
    )  # fmt: skip


def wait_ready(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path, timeout: float = 120
) -> None:
    """Poll ``ready()`` until true; raise when the process exits or the time is up."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited ({proc.returncode}); see {log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{proc.args!r} not ready after {timeout:.0f} s; see {log}")
        time.sleep(0.2)


def http_ok(url: str) -> Callable[[], bool]:
    """A probe: true when ``GET url`` answers 200."""
    import httpx

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def port_open(port: int) -> Callable[[], bool]:
    """A probe: true when something accepts connections on ``port``."""
    from mlops_common.testing.servers import wait_for_port

    def probe() -> bool:
        try:
            wait_for_port(LOCAL, port, 0.1)
        except TimeoutError:
            return False
        return True

    return probe


def start_retrying(
    start: Callable[[], subprocess.Popen[bytes]],
    ready: Callable[[], bool],
    log: Path,
    procs: list[subprocess.Popen[bytes]],
    attempts: int = 3,
) -> subprocess.Popen[bytes]:
    """Start one of the platform's services; when it dies or is not ready within a minute (its
    code may be mid-edit in this checkout), stop it, wait a minute and try again."""
    from mlops_common.testing.servers import stop_process_group

    for attempt in range(attempts):
        proc = start()
        procs.append(proc)
        try:
            wait_ready(proc, ready, log, timeout=60)
            return proc
        except (RuntimeError, TimeoutError):
            stop_process_group(proc)
            if attempt == attempts - 1:
                raise
            print(f"  {proc.args!r} not ready (see {log}); retrying in 60 s", flush=True)
            time.sleep(60)
    raise AssertionError("unreachable")


def mlserver_folder(root: Path, model: Path, ports: dict[str, int]) -> Path:
    """Write MLServer's ``settings.json`` and the model's ``model-settings.json``; the folder."""
    folder = root / "mlserver"
    (folder / MLSERVER_MODEL).mkdir(parents=True, exist_ok=True)
    settings = {
        "host": LOCAL, "http_port": ports["http"], "grpc_port": ports["grpc"],
        "metrics_port": ports["metrics"], "metrics_dir": str(folder / ".metrics"),
        "debug": False,  # its default (True) writes an access-log line per request
    }  # fmt: skip
    model_settings = {
        "name": MLSERVER_MODEL,
        "implementation": "mlserver_runtime.DigitsOnnxRuntime",
        "parameters": {"uri": str(model)},
        "max_batch_size": 64,
        "max_batch_time": 0.002,
    }
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    (folder / MLSERVER_MODEL / "model-settings.json").write_text(json.dumps(model_settings))
    return folder


def request_bodies(root: Path) -> dict[str, Path]:
    """The JSON bodies sent: ours and the FastAPI apps' (``instances``), and MLServer's (V2)."""
    v2 = {"inputs": [{"name": "features", "shape": [1, 64], "datatype": "FP32", "data": INSTANCE}]}
    bodies = {"instances": {"instances": [INSTANCE]}, "v2": v2}
    paths = {name: root / f"body-{name}.json" for name in bodies}
    for name, body in bodies.items():
        paths[name].write_text(json.dumps(body))
    return paths


def probabilities_of(target: Target, answer: dict[str, Any]) -> list[float]:
    """The first instance's probabilities in an HTTP answer of ``target``."""
    if target.name.startswith("rest"):
        return list(answer["predictions"][0]["probabilities"])
    if target.name == "mlserver":
        return list(answer["outputs"][0]["data"])
    return list(answer["probabilities"][0])


def check_answers(target: Target, expected: int, requests: int = 200) -> None:
    """Warm ``target`` up with ``requests`` predictions, each answered 200 with class ``expected``
    (the ONNX model's argmax on the sent row); raise otherwise."""
    if target.kind == "grpc":
        classes = _grpc_classes(target.address, requests)
    else:
        import httpx

        assert target.body is not None
        body = target.body.read_bytes()
        headers = {"content-type": "application/json"}
        classes = []
        with httpx.Client(base_url=target.address, timeout=10) as client:
            for _ in range(requests):
                response = client.post(target.path, content=body, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"{target.name}: {response.status_code} {response.text}")
                classes.append(int(np.argmax(probabilities_of(target, response.json()))))
    wrong = [c for c in classes if c != expected]
    if wrong:
        raise RuntimeError(f"{target.name}: class {wrong[0]} where the ONNX model says {expected}")


def _grpc_classes(address: str, requests: int) -> list[int]:
    import grpc

    from mlops_common.proto import grpc_service_pb2 as pb
    from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc

    tensor = pb.ModelInferRequest.InferInputTensor(name="features", datatype="FP32", shape=[1, 64])
    request = pb.ModelInferRequest(
        model_name="digits-classifier", inputs=[tensor],
        raw_input_contents=[np.asarray([INSTANCE], dtype="<f4").tobytes()],
    )  # fmt: skip
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        answers = [stub.ModelInfer(request, timeout=10) for _ in range(requests)]
    return [int(np.frombuffer(a.raw_output_contents[0], dtype="<f4").argmax()) for a in answers]


def python_path(*folders: Path) -> str:
    """A PYTHONPATH of ``folders`` (then whatever was set)."""
    return os.pathsep.join([*map(str, folders), *filter(None, [os.environ.get("PYTHONPATH")])])


def platform_env(redis_url: str, root: Path) -> dict[str, str]:
    """The environment our services share in the benchmark."""
    return {"REDIS_URL": redis_url, "LOG_LEVEL": "WARNING", "MLOPS_STATE_DIR": str(root)}


def our_python() -> str:
    """The interpreter that runs our services (this venv's)."""
    return sys.executable
