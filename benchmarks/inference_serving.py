"""Serving benchmark of the inference service (issue 4).

Measures throughput, p50/p99 latency and mean batch size of one-row requests for:
- ``ort``: onnxruntime in-process (c threads calling ``session.run``, same session options);
- ``service off`` / ``service on``: ``python -m mlops_inference`` with batching off / on;
- ``echo``: a no-op grpc.aio ``ModelInfer`` server answering a response of the same size,
at concurrency 1, 8 and 64, for the small default model and a larger MLP. Servers and the load
generator (grpc.aio, pre-serialised requests) run in separate processes, so the GIL of one does
not throttle the other. Also compares time per batch inside the service with in-process
onnxruntime at the same batch size, and checks the issue's targets.

    .venv/bin/python benchmarks/inference_serving.py [--seconds 3] [--quick]

Prints the tables and saves them to benchmarks/results/inference_serving.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "inference_serving.md"
METHOD = "/inference.GRPCInferenceService/ModelInfer"
CONCURRENCY = (1, 8, 64)
MODELS = {"default (64→128→10)": (128,), "larger (64→2048→2048→10)": (2048, 2048)}


# -- load generator (runs in its own process) ------------------------------------------------
async def _load(target: str, concurrency: int, seconds: float, rows: int) -> dict[str, float]:
    import grpc

    from mlops_common.proto import grpc_service_pb2 as pb

    x = np.random.default_rng(0).uniform(0, 16, (rows, 64)).astype("<f4")
    tensor = pb.ModelInferRequest.InferInputTensor(
        name="features", datatype="FP32", shape=[rows, 64]
    )
    payload = pb.ModelInferRequest(
        model_name="digits-classifier", inputs=[tensor], raw_input_contents=[x.tobytes()]
    ).SerializeToString()
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(METHOD)  # bytes in, bytes out: the client parses nothing
        first = pb.ModelInferResponse.FromString(await call(payload))
        assert len(first.raw_output_contents[0]) == rows * 40, "unexpected response size"
        warm_until = time.perf_counter() + min(0.5, seconds / 4)
        end = warm_until + seconds

        async def worker() -> None:
            while (now := time.perf_counter()) < end:
                await call(payload)
                done = time.perf_counter()
                if now >= warm_until:
                    latencies.append(done - now)

        await asyncio.gather(*[worker() for _ in range(concurrency)])
    return _summary(latencies, seconds)


def _summary(latencies: list[float], seconds: float) -> dict[str, float]:
    array = np.array(latencies) * 1000.0
    return {
        "rps": len(array) / seconds,
        "p50": float(np.percentile(array, 50)),
        "p99": float(np.percentile(array, 99)),
    }


# -- no-op echo server (runs in its own process) ----------------------------------------------
async def _echo(port: int, rows: int) -> None:
    import grpc

    from mlops_common.proto import grpc_service_pb2 as pb

    out = pb.ModelInferResponse(model_name="digits-classifier", model_version="1")
    out.outputs.add(name="probabilities", datatype="FP32", shape=[rows, 10])
    out.raw_output_contents.append(bytes(rows * 40))
    answer = out.SerializeToString()

    async def infer(request: bytes, context: object) -> bytes:
        pb.ModelInferRequest.FromString(request)  # parse like a real server would
        return answer

    handler = grpc.method_handlers_generic_handler(
        "inference.GRPCInferenceService", {"ModelInfer": grpc.unary_unary_rpc_method_handler(infer)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


# -- orchestration ------------------------------------------------------------------------
def _free_port() -> int:
    from mlops_common.testing.servers import free_port

    return free_port()


def _client(port: int, concurrency: int, seconds: float, rows: int = 1) -> dict[str, float]:
    args = [sys.executable, __file__, "--client", f"127.0.0.1:{port}", str(concurrency)]
    args += [str(seconds), str(rows)]
    done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=120)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = {}
    for name in (
        "inference_batch_size_sum", "inference_batch_size_count",
        "inference_batch_duration_seconds_sum", "inference_batch_duration_seconds_count",
    ):  # fmt: skip
        match = re.search(rf"^{name} (\S+)$", text, re.M)
        values[name] = float(match.group(1)) if match else 0.0
    return values


class Service:
    """``python -m mlops_inference`` on free ports, as deployed (env settings)."""

    def __init__(self, model: Path, batching: bool, max_batch: int = 64) -> None:
        self.port, self.metrics_port = _free_port(), _free_port()
        env = os.environ | {
            "INFERENCE_MODEL_URI": str(model), "INFERENCE_BATCHING": "on" if batching else "off",
            "INFERENCE_PORT": str(self.port), "INFERENCE_METRICS_PORT": str(self.metrics_port),
            "INFERENCE_HOST": "127.0.0.1", "INFERENCE_MAX_BATCH_SIZE": str(max_batch),
            "LOG_LEVEL": "WARNING", "OTEL_SDK_DISABLED": "false",
        }  # fmt: skip
        self.proc = subprocess.Popen([sys.executable, "-m", "mlops_inference"], env=env)
        self._wait_ready()

    def _wait_ready(self) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        deadline = time.monotonic() + 60
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                try:
                    status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    if status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise TimeoutError("inference service not SERVING after 60 s")

    def run(self, concurrency: int, seconds: float, rows: int = 1) -> dict[str, float]:
        before = _metrics(self.metrics_port)
        result = _client(self.port, concurrency, seconds, rows)
        after = _metrics(self.metrics_port)
        delta = {k: after[k] - before[k] for k in after}
        batches = max(delta["inference_batch_size_count"], 1.0)
        result["batch"] = delta["inference_batch_size_sum"] / batches
        result["batch_ms"] = 1000 * delta["inference_batch_duration_seconds_sum"] / batches
        return result

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _ort_session(model: Path):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    from mlops_inference.model import session_options
    from mlops_inference.settings import available_cpus

    return ort.InferenceSession(str(model), session_options(available_cpus()))


def ort_in_process(model: Path, concurrency: int, seconds: float) -> dict[str, float]:
    """c threads each calling ``session.run`` on one row, as fast as they can."""
    session = _ort_session(model)
    x = np.random.default_rng(0).uniform(0, 16, (1, 64)).astype(np.float32)
    session.run(None, {"features": x})
    latencies: list[float] = []
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def worker() -> None:
        mine = []
        while (now := time.perf_counter()) < end:
            session.run(None, {"features": x})
            mine.append(time.perf_counter() - now)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _summary(latencies, seconds) | {"batch": 1.0}


def ort_batch_ms(model: Path, rows: int, repeats: int = 200) -> float:
    """Mean time of one ``session.run`` on ``rows`` rows, in-process."""
    session = _ort_session(model)
    x = np.random.default_rng(0).uniform(0, 16, (rows, 64)).astype(np.float32)
    for _ in range(10):
        session.run(None, {"features": x})
    started = time.perf_counter()
    for _ in range(repeats):
        session.run(None, {"features": x})
    return 1000 * (time.perf_counter() - started) / repeats


def _row(label: str, model: str, c: int, r: dict[str, float]) -> str:
    return (
        f"| {label} | {model} | {c} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
        f"| {r.get('batch', float('nan')):.1f} |"
    )


def _check(name: str, ok: bool, detail: str) -> str:
    return f"| {name} | {detail} | {'PASS' if ok else 'FAIL'} |"


def run(seconds: float, concurrency: tuple[int, ...]) -> str:
    """Run every cell; return the markdown report."""
    from mlops_common.testing.onnx_models import write_mlp_model

    folder = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    paths = {name: write_mlp_model(folder / f"m{i}.onnx", hidden) for i, (name, hidden)
             in enumerate(MODELS.items())}  # fmt: skip
    header = "| setup | model | c | req/s | p50 ms | p99 ms | mean batch |\n" + "|---" * 7 + "|"
    lines: list[str] = []
    table: dict[tuple[str, str, int], dict[str, float]] = {}

    echo_port = _free_port()
    echo = subprocess.Popen([sys.executable, __file__, "--echo", str(echo_port), "1"])
    time.sleep(1.5)
    try:
        for c in concurrency:
            table[("echo", "-", c)] = _client(echo_port, c, seconds)
            lines.append(_row("no-op grpc.aio echo", "-", c, table[("echo", "-", c)]))
            print(lines[-1], flush=True)
    finally:
        echo.terminate()
        echo.wait()

    batch_rows: list[str] = []
    for name, path in paths.items():
        for c in concurrency:
            table[("ort", name, c)] = ort_in_process(path, c, seconds)
            lines.append(_row("onnxruntime in-process", name, c, table[("ort", name, c)]))
            print(lines[-1], flush=True)
        for batching in (False, True):
            label = f"service, batching {'on' if batching else 'off'}"
            service = Service(path, batching)
            try:
                for c in concurrency:
                    table[(label, name, c)] = service.run(c, seconds)
                    lines.append(_row(label, name, c, table[(label, name, c)]))
                    print(lines[-1], flush=True)
                if batching:  # time per batch inside the service vs in-process, same batch size
                    for rows in (1, 16, 64):
                        inside = service.run(1, seconds / 2, rows)["batch_ms"]
                        outside = ort_batch_ms(path, rows)
                        batch_rows.append(
                            f"| {name} | {rows} | {inside:.3f} | {outside:.3f} "
                            f"| {inside / outside:.2f} |"
                        )
                        print(batch_rows[-1], flush=True)
            finally:
                service.stop()

    checks = _checks(table, batch_rows, concurrency)
    return "\n".join(
        [
            "# Inference serving benchmark",
            "",
            f"One-row requests, {seconds:.0f} s per cell after warm-up; load generator in its own "
            f"process; {os.cpu_count()} CPUs shared with other work (load average at start "
            f"{os.getloadavg()[0]:.1f}). Mean batch = rows per model run.",
            "",
            header,
            *lines,
            "",
            "## Time per batch: inside the service vs onnxruntime in-process",
            "",
            "| model | batch rows | service ms | in-process ms | ratio |",
            "|---|---|---|---|---|",
            *batch_rows,
            "",
            "## Targets",
            "",
            "| target | measured | verdict |",
            "|---|---|---|",
            *checks,
            "",
        ]
    )


def _checks(
    table: dict[tuple[str, str, int], dict[str, float]], batch_rows: list[str], cs: tuple[int, ...]
) -> list[str]:
    small, big = list(MODELS)
    on, off = "service, batching on", "service, batching off"
    hi, lo = max(cs), min(cs)
    checks = []
    r_on, r_off = table[(on, big, hi)], table[(off, big, hi)]
    ratio = r_on["rps"] / r_off["rps"]
    checks.append(_check(f"batching on ≥ 3× off, larger model, c={hi}", ratio >= 3,
                         f"{ratio:.2f}×"))  # fmt: skip
    checks.append(_check(f"p99 on ≤ off, larger model, c={hi}", r_on["p99"] <= r_off["p99"],
                         f"{r_on['p99']:.1f} vs {r_off['p99']:.1f} ms"))  # fmt: skip
    for model in (small, big):
        p_on, p_off = table[(on, model, lo)]["p50"], table[(off, model, lo)]["p50"]
        checks.append(_check(f"c={lo} p50 on ≤ 1.1× off ({model})", p_on <= 1.1 * p_off,
                             f"{p_on:.2f} vs {p_off:.2f} ms ({p_on / p_off:.2f}×)"))  # fmt: skip
    for c in cs:
        best = max(table[(on, small, c)]["rps"], table[(off, small, c)]["rps"])
        echo = table[("echo", "-", c)]["rps"]
        checks.append(_check(f"service ≥ 0.6× echo throughput, c={c} (default model)",
                             best >= 0.6 * echo, f"{best / echo:.2f}×"))  # fmt: skip
    for row in batch_rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        ratio = float(cells[4])
        checks.append(_check(f"per-batch time ≤ 1.15× in-process ({cells[0]}, {cells[1]} rows)",
                             ratio <= 1.15, f"{ratio:.2f}×"))  # fmt: skip
    return checks


def main() -> None:
    """Parse arguments; run the whole benchmark or one of its helper roles."""
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        target, c, seconds, rows = (
            sys.argv[2],
            int(sys.argv[3]),
            float(sys.argv[4]),
            int(sys.argv[5]),
        )
        print(json.dumps(asyncio.run(_load(target, c, seconds, rows))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--echo":
        asyncio.run(_echo(int(sys.argv[2]), int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per cell")
    parser.add_argument("--quick", action="store_true", help="1 s per cell")
    args = parser.parse_args()
    report = run(1.0 if args.quick else args.seconds, CONCURRENCY)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)
    print(f"saved to {RESULTS}")


if __name__ == "__main__":
    main()
