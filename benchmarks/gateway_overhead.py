"""Gateway overhead: REST gateway vs direct gRPC to inference, traffic logging on and off.

Starts redis-server, the inference service (a small linear ONNX model, so the model costs
little and the transport dominates) and gateways (traffic logging on / off) as processes,
then drives each target from SEPARATE load-generator processes (``benchmarks/_loadgen.py``) at
concurrency 1 and 32 with one instance per request: ``ModelInfer`` over grpc.aio for direct
gRPC, ``POST /v1/predict`` over keep-alive HTTP/1.1 for the gateways.

On a 2-CPU machine the servers and the load generators share the CPUs, and how the scheduler
places them moves one cell's throughput by ±10 % or more from one cell to the next, and even
two identical gateway processes differ. So every round starts fresh gateway processes (logging
on, logging off, and a second logging-off one as an A/A control), measures every cell back to
back in an order that rotates from round to round, and each comparison is a ratio of two cells
of the same round; the median over ``--repeats`` rounds is checked, with the range beside it.
The A/A ratio shows the noise floor. The CPU time each server process spends per request (from
``/proc``) is printed too: it shows what traffic logging costs in the gateway and in Redis.
Services run with their defaults (no OTLP endpoint: no spans are made).

Targets checked: gateway ≥ 0.5× direct gRPC throughput at c=32; added p50 ≤ 1 ms at c=1;
logging on ≥ 0.95× logging off at c=32. Prints a table and writes
``benchmarks/results/gateway_overhead.md``.

    .venv/bin/python benchmarks/gateway_overhead.py [--duration 3] [--warmup 0.5] [--repeats 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _gateway_report import CONTROL, DIRECT, OFF, ON, Cell, report
from _loadgen import drive

ROOT = Path(__file__).resolve().parents[1]


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process (0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def measure(
    kind: str,
    target: str,
    concurrency: int,
    args: argparse.Namespace,
    clients: int,
    pids: dict[str, int | None],
) -> Cell:
    """Run ``clients`` load processes sharing ``concurrency`` requests in flight."""
    clients = max(1, min(clients, concurrency))
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    latencies, requests = drive(kind, target, concurrency, clients, args.duration, args.warmup)
    cpu_us = {
        name: (_cpu_seconds(pid) - before[name]) / max(requests, 1) * 1e6
        for name, pid in pids.items()
    }
    return Cell.of(latencies, args.duration, cpu_us)


def _wait_ready(url: str, root: Path, warm_requests: int = 200) -> None:
    """Wait for ``/readyz``, then warm the gateway up with predictions (first calls are slow)."""
    import httpx
    from _loadgen import INSTANCE

    deadline = time.monotonic() + 60
    with httpx.Client(base_url=url) as client:
        while True:
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} not ready; see {root}")
            time.sleep(0.2)
        for _ in range(warm_requests):
            client.post("/v1/predict", json={"instances": [INSTANCE]}).raise_for_status()


def _start_gateways(
    common: dict[str, str],
    inference_port: int,
    root: Path,
    round_: int,
    gateways: dict[str, tuple[str, subprocess.Popen[bytes]]],
) -> None:
    """Fresh gateway processes for one round: logging on, logging off, and the A/A control.

    Each goes into ``gateways`` as soon as it is spawned, so the caller can always stop it.
    """
    from mlops_common.testing.servers import free_port

    for name, label, logging_on in (("on", ON, True), ("off", OFF, False), ("aa", CONTROL, False)):
        port = free_port()
        proc = _spawn(
            [sys.executable, "-m", "mlops_gateway"],
            {**common, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
             "GATEWAY_INFERENCE_TARGET": f"127.0.0.1:{inference_port}",
             "GATEWAY_TRAFFIC_LOGGING": str(logging_on).lower()},
            root / f"gateway-{round_}-{name}.log",
        )  # fmt: skip
        gateways[label] = (f"http://127.0.0.1:{port}", proc)
    for url, _ in gateways.values():
        _wait_ready(url, root)


def _round(
    round_: int, direct: str, gateways: dict[str, str], pids: dict[str, int | None], args: Any
) -> dict[tuple[str, int], Cell]:
    """Every cell once, back to back, in an order that rotates from round to round."""
    cells: dict[tuple[str, int], Cell] = {}
    plan = {1: [DIRECT, ON, OFF], 32: [DIRECT, ON, OFF, CONTROL]}
    for concurrency, labels in plan.items():
        clients = args.clients if concurrency >= 32 else 1
        shift = round_ % len(labels)
        for label in labels[shift:] + labels[:shift]:
            kind, target = ("grpc", direct) if label == DIRECT else ("http", gateways[label])
            cell = measure(kind, target, concurrency, args, clients, pids)
            cells[(label, concurrency)] = cell
            print(f"  round {round_ + 1} {label:34s} c={concurrency:<3d} {cell}", flush=True)
    return cells


def main() -> None:
    """Start the services, run the rounds, print and save the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=10, help="rounds; medians are checked")
    parser.add_argument("--clients", type=int, default=2, help="load processes at c ≥ 32")
    args = parser.parse_args()

    import httpx

    from mlops_common.testing.onnx_models import write_linear_model
    from mlops_common.testing.servers import (
        RedisServer,
        free_port,
        stop_process_group,
        wait_for_port,
    )

    root = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    model = write_linear_model(root / "model.onnx")
    redis = RedisServer().start()
    inference: subprocess.Popen[bytes] | None = None
    gateways: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    try:
        common = {"REDIS_URL": redis.url, "LOG_LEVEL": "WARNING", "MLOPS_STATE_DIR": str(root)}
        inference_port = free_port()
        inference = _spawn(
            [sys.executable, "-m", "mlops_inference"],
            {**common, "INFERENCE_MODEL_URI": str(model), "INFERENCE_HOST": "127.0.0.1",
             "INFERENCE_PORT": str(inference_port), "INFERENCE_METRICS_PORT": "-1"},
            root / "inference.log",
        )  # fmt: skip
        wait_for_port("127.0.0.1", inference_port, 60)
        rounds: list[dict[tuple[str, int], Cell]] = []
        args.load_start = os.getloadavg()
        for round_ in range(args.repeats):
            _start_gateways(common, inference_port, root, round_, gateways)
            pids: dict[str, int | None] = {"inference": inference.pid, "redis": redis.pid}
            pids |= {label: proc.pid for label, (_, proc) in gateways.items()}
            urls = {label: url for label, (url, _) in gateways.items()}
            rounds.append(_round(round_, f"127.0.0.1:{inference_port}", urls, pids, args))
            metrics = httpx.get(f"{urls[ON]}/metrics").text
            for _, proc in gateways.values():
                stop_process_group(proc)
            gateways.clear()
        args.load_end = os.getloadavg()
    finally:
        for _, proc in gateways.values():
            stop_process_group(proc)
        if inference is not None:
            stop_process_group(inference)
        redis.stop()
    args.host = (
        f"{platform.machine()}, {os.cpu_count()} CPUs visible, Python {platform.python_version()}"
    )
    report(rounds, metrics, args)


if __name__ == "__main__":
    main()
