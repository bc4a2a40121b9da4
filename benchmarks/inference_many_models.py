"""Per-request cost of serving several models: one inference process with 1 vs 5 models.

Requests are routed by ``model_name`` with one dict lookup, in inference and in the gateway's
catalog, so a request to one model should cost the same whether 1 model is served or 5. This runs
``python -m mlops_inference`` (as deployed, env settings) with ``INFERENCE_MODELS`` naming 1 or 5
small linear models (the digits contract, different seeds) and ``python -m mlops_gateway`` in
front of it (traffic logged to a real redis-server), alternating the two counts in each round, and
measures requests to the first model: gRPC p50/p99 latency at c=1 (one synchronous client) and
throughput at c=32 (one asyncio client), and the gateway's ``POST /v1/models/m0/predict`` p50 at
c=1. Prints a table and saves it to ``benchmarks/results/inference_many_models.md``.

    .venv/bin/python benchmarks/inference_many_models.py [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.testing.onnx_models import write_linear_model
from mlops_common.testing.servers import RedisServer, free_port

RESULTS = Path(__file__).parent / "results" / "inference_many_models.md"
COUNTS = (1, 5)


def _request() -> pb.ModelInferRequest:
    x = np.random.default_rng(0).uniform(0, 16, (1, 64)).astype("<f4")
    tensor = pb.ModelInferRequest.InferInputTensor(name="features", datatype="FP32", shape=[1, 64])
    return pb.ModelInferRequest(model_name="m0", inputs=[tensor], raw_input_contents=[x.tobytes()])


class Service:
    """``python -m mlops_inference`` serving ``models`` (``name=path`` pairs) on a free port."""

    def __init__(self, models: list[str]) -> None:
        self.port = free_port()
        env = os.environ | {
            "INFERENCE_MODELS": ",".join(models), "INFERENCE_PORT": str(self.port),
            "INFERENCE_METRICS_PORT": "-1", "INFERENCE_HOST": "127.0.0.1",
            "INFERENCE_WATCH_REDIS": "false", "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        self.proc = subprocess.Popen([sys.executable, "-m", "mlops_inference"], env=env)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                try:
                    check = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if check.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise TimeoutError("inference service not SERVING after 60 s")

    def latency_ms(self, seconds: float) -> tuple[float, float]:
        """p50 and p99 (ms) of sequential requests for ``seconds``."""
        request = _request()
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            for _ in range(200):
                stub.ModelInfer(request)
            latencies = []
            end = time.perf_counter() + seconds
            while (now := time.perf_counter()) < end:
                stub.ModelInfer(request)
                latencies.append(time.perf_counter() - now)
        ms = np.array(latencies) * 1000
        return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))

    def throughput(self, seconds: float, concurrency: int = 32) -> float:
        """Requests per second with ``concurrency`` requests in flight."""

        async def run() -> float:
            request = _request()
            done = 0
            async with grpc.aio.insecure_channel(f"127.0.0.1:{self.port}") as channel:
                stub = pb_grpc.GRPCInferenceServiceStub(channel)
                end = time.perf_counter() + seconds

                async def worker() -> None:
                    nonlocal done
                    while time.perf_counter() < end:
                        await stub.ModelInfer(request)
                        done += 1

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                return done / (time.perf_counter() - started)

        return asyncio.run(run())

    def stop(self) -> None:
        """Terminate and reap the process."""
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Gateway:
    """``python -m mlops_gateway`` in front of ``inference_port``, default model ``m0``."""

    def __init__(self, inference_port: int, redis_url: str) -> None:
        self.port = free_port()
        env = os.environ | {
            "GATEWAY_PORT": str(self.port), "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_INFERENCE_TARGET": f"127.0.0.1:{inference_port}",
            "GATEWAY_DEFAULT_MODEL": "m0", "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "mlops_gateway"], env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("gateway not ready after 60 s")

    def latency_ms(self, seconds: float) -> float:
        """p50 (ms) of sequential ``POST /v1/models/m0/predict`` for ``seconds``."""
        row = np.random.default_rng(0).uniform(0, 16, 64).round(2).tolist()
        body = {"instances": [row]}
        with httpx.Client(base_url=self.url) as client:
            for _ in range(200):
                client.post("/v1/models/m0/predict", json=body).raise_for_status()
            latencies = []
            end = time.perf_counter() + seconds
            while (now := time.perf_counter()) < end:
                client.post("/v1/models/m0/predict", json=body).raise_for_status()
                latencies.append(time.perf_counter() - now)
        return float(np.percentile(np.array(latencies) * 1000, 50))

    def stop(self) -> None:
        """Terminate and reap the process."""
        self.proc.terminate()
        self.proc.wait(timeout=30)


def main() -> None:
    """Run the rounds, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="many-models-"))
    paths = [write_linear_model(folder / f"m{i}.onnx", seed=i) for i in range(max(COUNTS))]
    results: dict[int, list[tuple[float, float, float, float]]] = {n: [] for n in COUNTS}
    redis = RedisServer().start()
    try:
        for round_ in range(args.rounds):
            for count in COUNTS if round_ % 2 == 0 else reversed(COUNTS):
                service = Service([f"m{i}={paths[i]}" for i in range(count)])
                gateway = None
                try:
                    p50, p99 = service.latency_ms(args.seconds)
                    rps = service.throughput(args.seconds)
                    gateway = Gateway(service.port, redis.url)
                    rest = gateway.latency_ms(args.seconds)
                finally:
                    if gateway is not None:
                        gateway.stop()
                    service.stop()
                results[count].append((p50, p99, rps, rest))
                print(
                    f"round {round_}: {count} model(s): p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                    f"{rps:.0f} req/s, gateway p50 {rest:.2f} ms"
                )
    finally:
        redis.stop()
    rows = []
    for count in COUNTS:
        p50, p99, rps, rest = (statistics.median(r[i] for r in results[count]) for i in range(4))
        rows.append(f"| {count} | {p50:.2f} | {p99:.2f} | {rps:.0f} | {rest:.2f} |")
    one = statistics.median(r[0] for r in results[1])
    five = statistics.median(r[0] for r in results[max(COUNTS)])
    rest_one = statistics.median(r[3] for r in results[1])
    rest_five = statistics.median(r[3] for r in results[max(COUNTS)])
    text = "\n".join(
        [
            "# Inference: 1 vs 5 served models",
            "",
            f"Host: {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}; "
            f"requests to one model (1 row, linear digits model), {args.seconds:g} s per "
            f"measurement, {args.rounds} rounds alternating the order (median).",
            "",
            "| models served | gRPC c=1 p50 ms | gRPC c=1 p99 ms | gRPC c=32 req/s "
            "| gateway REST c=1 p50 ms |",
            "|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"c=1 p50 with 5 models / with 1: gRPC {five / one:.2f}, gateway REST "
            f"{rest_five / rest_one:.2f} (routing is one dict lookup in each: the ratios are "
            "noise around 1).",
        ]
    )
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
