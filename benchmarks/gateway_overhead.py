"""Gateway overhead: REST gateway vs direct gRPC to inference, traffic logging on and off.

Starts redis-server, the inference service (a small linear ONNX model, so the model costs
little and the transport dominates) and two gateways (traffic logging on / off) as processes,
then drives each target from a SEPARATE load-generator process at concurrency 1 and 32 with
one instance per request:

- ``grpc``: ``ModelInfer`` with raw contents over one grpc.aio channel (what the gateway does);
- ``gateway``: ``POST /v1/predict`` over keep-alive HTTP/1.1 (a minimal asyncio client, so
  the client's own cost stays small).

Every cell is measured ``--repeats`` times in interleaved rounds (direct, logging on, logging
off, in a rotating order) and the median is reported, so a burst of other work on the shared
CPUs hits every setup alike. At c ≥ 32 the load is spread over ``--clients`` processes so the
load generator is not what limits direct gRPC. Services run with their defaults (no OTLP
endpoint: no spans are made).

Targets checked: gateway ≥ 0.5× direct gRPC throughput at c=32; added p50 ≤ 1 ms at c=1;
logging on ≥ 0.95× logging off at c=32. Prints a table and writes
``benchmarks/results/gateway_overhead.md``.

    .venv/bin/python benchmarks/gateway_overhead.py [--duration 4] [--warmup 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "gateway_overhead.md"
INSTANCE = [float(i % 17) for i in range(64)]


# --------------------------------------------------------------------------- load generator
async def _grpc_run(target: str, concurrency: int, duration: float, warmup: float) -> list[float]:
    import grpc
    import numpy as np

    from mlops_common.proto import grpc_service_pb2 as pb
    from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc

    features = np.asarray([INSTANCE], dtype="<f4")
    request = pb.ModelInferRequest(
        model_name="digits-classifier",
        inputs=[
            pb.ModelInferRequest.InferInputTensor(name="features", datatype="FP32", shape=[1, 64])
        ],
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="probabilities")],
        raw_input_contents=[features.tobytes()],
    )
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        await stub.ModelInfer(request, timeout=10)
        warm_until = time.perf_counter() + warmup
        stop_at = warm_until + duration

        async def worker() -> None:
            while (now := time.perf_counter()) < stop_at:
                response = await stub.ModelInfer(request, timeout=10)
                # decode like the gateway does, so both sides pay for it
                np.frombuffer(response.raw_output_contents[0], dtype="<f4").argmax()
                if now >= warm_until:
                    latencies.append(time.perf_counter() - now)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def _http_run(url: str, concurrency: int, duration: float, warmup: float) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"instances": [INSTANCE]}).encode()
    request = (
        f"POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    warm_until = time.perf_counter() + warmup
    stop_at = warm_until + duration

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while (now := time.perf_counter()) < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            json.loads(await reader.readexactly(length))
            if now >= warm_until:
                latencies.append(time.perf_counter() - now)
        writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def load_main(kind: str, target: str, concurrency: int, duration: float, warmup: float) -> None:
    """The load generator's process: run, then print the latencies (s) as JSON on stdout."""
    run = _grpc_run if kind == "grpc" else _http_run
    print(json.dumps(asyncio.run(run(target, concurrency, duration, warmup))))


def _stats(latencies: list[float], duration: float) -> dict[str, float]:
    latencies = sorted(latencies)
    n = len(latencies)
    return {
        "rps": n / duration,
        "p50_ms": latencies[n // 2] * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


# --------------------------------------------------------------------------- orchestration
def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _measure(
    kind: str, target: str, concurrency: int, duration: float, warmup: float, clients: int = 1
) -> dict[str, float]:
    """Run ``clients`` load processes sharing ``concurrency`` requests in flight."""
    clients = max(1, min(clients, concurrency))
    procs = []
    for i in range(clients):
        share = concurrency // clients + (i < concurrency % clients)
        args = [sys.executable, __file__, "--load", kind, "--target", target]
        args += ["--concurrency", str(share), "--duration", str(duration)]
        args += ["--warmup", str(warmup)]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, text=True))
    latencies: list[float] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        if proc.returncode:
            raise RuntimeError(f"load generator failed ({proc.returncode})")
        latencies += json.loads(out.strip().splitlines()[-1])
    return _stats(latencies, duration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument(
        "--repeats", type=int, default=3, help="interleaved rounds per cell; the median is kept"
    )
    parser.add_argument("--clients", type=int, default=2, help="load processes at c ≥ 32")
    parser.add_argument("--load", choices=["grpc", "http"], help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args.load, args.target, args.concurrency, args.duration, args.warmup)
        return

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
    procs: list[subprocess.Popen[bytes]] = []
    try:
        common = {"REDIS_URL": redis.url, "LOG_LEVEL": "WARNING", "MLOPS_STATE_DIR": str(root)}
        inference_port = free_port()
        procs.append(
            _spawn(
                [sys.executable, "-m", "mlops_inference"],
                {**common, "INFERENCE_MODEL_URI": str(model), "INFERENCE_HOST": "127.0.0.1",
                 "INFERENCE_PORT": str(inference_port), "INFERENCE_METRICS_PORT": "-1"},
                root / "inference.log",
            )
        )  # fmt: skip
        gateways = {}
        for logging_on in (True, False):
            port = free_port()
            procs.append(
                _spawn(
                    [sys.executable, "-m", "mlops_gateway"],
                    {**common, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
                     "GATEWAY_INFERENCE_TARGET": f"127.0.0.1:{inference_port}",
                     "GATEWAY_TRAFFIC_LOGGING": str(logging_on).lower()},
                    root / f"gateway-{logging_on}.log",
                )
            )  # fmt: skip
            gateways[logging_on] = f"http://127.0.0.1:{port}"
        wait_for_port("127.0.0.1", inference_port, 60)
        for url in gateways.values():
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} not ready; see {root}")
                time.sleep(0.2)

        cells = [
            ("direct gRPC", "grpc", f"127.0.0.1:{inference_port}"),
            ("gateway, logging on", "http", gateways[True]),
            ("gateway, logging off", "http", gateways[False]),
        ]
        runs: dict[tuple[str, int], list[dict[str, float]]] = {}
        args.load_start = os.getloadavg()
        for round_ in range(args.repeats):
            for concurrency in (1, 32):
                clients = args.clients if concurrency >= 32 else 1
                shift = round_ % len(cells)
                for label, kind, target in cells[shift:] + cells[:shift]:
                    result = _measure(
                        kind, target, concurrency, args.duration, args.warmup, clients
                    )
                    runs.setdefault((label, concurrency), []).append(result)
                    print(
                        f"  round {round_ + 1} {label:22s} c={concurrency:<3d} {result}", flush=True
                    )
        results = {
            key: {k: statistics.median(r[k] for r in values) for k in values[0]}
            for key, values in runs.items()
        }
        args.load_end = os.getloadavg()
        logged = httpx.get(f"{gateways[True]}/metrics").text
    finally:
        for proc in reversed(procs):
            stop_process_group(proc)
        redis.stop()
    report(results, logged, args)


def report(
    results: dict[tuple[str, int], dict[str, float]], metrics: str, args: argparse.Namespace
) -> None:
    lines = [
        "# Gateway overhead: REST gateway vs direct gRPC",
        "",
        f"Host: {platform.machine()}, {os.cpu_count()} CPUs visible, "
        f"Python {platform.python_version()}; shared with other engineers' work at the time: "
        f"load average {args.load_start[0]:.1f} at start, {args.load_end[0]:.1f} at the end "
        f"(1-min), {args.load_end[2]:.1f} (15-min).",
        f"One instance per request; {args.duration:g} s per cell after {args.warmup:g} s warm-up, "
        f"median of {args.repeats} interleaved rounds; load generator in its own process "
        f"({args.clients} processes at c=32). Gateway: 1 uvicorn worker (uvloop, httptools), "
        "no OTLP endpoint (no spans), traffic logging to a real redis-server.",
        "",
        "| target | concurrency | req/s | p50 ms | p99 ms | mean ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for (label, concurrency), r in results.items():
        cells = (f"{r['rps']:.0f}", *(f"{r[k]:.2f}" for k in ("p50_ms", "p99_ms", "mean_ms")))
        lines.append(f"| {label} | {concurrency} | " + " | ".join(cells) + " |")
    direct32 = results[("direct gRPC", 32)]["rps"]
    on32 = results[("gateway, logging on", 32)]["rps"]
    off32 = results[("gateway, logging off", 32)]["rps"]
    added_p50 = (
        results[("gateway, logging on", 1)]["p50_ms"] - results[("direct gRPC", 1)]["p50_ms"]
    )
    checks = [
        (
            "gateway (logging on) ≥ 0.5× direct gRPC throughput at c=32",
            on32 / direct32,
            on32 / direct32 >= 0.5,
            "×",
        ),
        ("added p50 ≤ 1 ms at c=1", added_p50, added_p50 <= 1.0, " ms"),
        ("logging on ≥ 0.95× logging off at c=32", on32 / off32, on32 / off32 >= 0.95, "×"),
    ]
    lines += ["", "| target | measured | met |", "|---|---:|---|"]
    for name, value, met, unit in checks:
        lines.append(f"| {name} | {value:.2f}{unit} | {'yes' if met else 'NO'} |")
    logged = [
        line
        for line in metrics.splitlines()
        if line.startswith(("gateway_traffic_logged_total", "gateway_traffic_dropped_total"))
    ]
    lines += [
        "",
        "Traffic counters of the logging gateway after the run:",
        "",
        "```",
        *logged,
        "```",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
