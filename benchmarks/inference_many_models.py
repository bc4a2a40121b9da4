"""Per-request cost of serving several models: one inference process with 1 vs 5 models.

Requests are routed by ``model_name`` with one dict lookup, so a request to one model should
cost the same whether the process serves 1 model or 5. This runs ``python -m mlops_inference``
(as deployed, env settings) with ``INFERENCE_MODELS`` naming 1 or 5 small linear models (the
digits contract, different seeds), alternating the two in each round, and measures requests to
the first model: p50/p99 latency at c=1 (one synchronous client) and throughput at c=32 (one
asyncio client). Prints a table and saves it to ``benchmarks/results/inference_many_models.md``.

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
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.testing.onnx_models import write_linear_model
from mlops_common.testing.servers import free_port

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


def main() -> None:
    """Run the rounds, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="many-models-"))
    paths = [write_linear_model(folder / f"m{i}.onnx", seed=i) for i in range(max(COUNTS))]
    results: dict[int, list[tuple[float, float, float]]] = {n: [] for n in COUNTS}
    for round_ in range(args.rounds):
        for count in COUNTS if round_ % 2 == 0 else reversed(COUNTS):
            service = Service([f"m{i}={paths[i]}" for i in range(count)])
            try:
                p50, p99 = service.latency_ms(args.seconds)
                rps = service.throughput(args.seconds)
            finally:
                service.stop()
            results[count].append((p50, p99, rps))
            print(
                f"round {round_}: {count} model(s): p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                f"{rps:.0f} req/s"
            )
    rows = []
    for count in COUNTS:
        p50, p99, rps = (statistics.median(r[i] for r in results[count]) for i in range(3))
        rows.append(f"| {count} | {p50:.2f} | {p99:.2f} | {rps:.0f} |")
    one = statistics.median(r[0] for r in results[1])
    five = statistics.median(r[0] for r in results[max(COUNTS)])
    text = "\n".join(
        [
            "# Inference: 1 vs 5 served models",
            "",
            f"Host: {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}; "
            f"requests to one model (1 row, linear digits model), {args.seconds:g} s per "
            f"measurement, {args.rounds} rounds alternating the order (median).",
            "",
            "| models served | c=1 p50 ms | c=1 p99 ms | c=32 req/s |",
            "|---:|---:|---:|---:|",
            *rows,
            "",
            f"c=1 p50 with 5 models / with 1: {five / one:.2f} (routing is one dict lookup: "
            "the ratio is noise around 1).",
        ]
    )
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
