"""Serving benchmark of the inference service (issue 4).

Measures throughput, p50/p99 latency and mean batch size of one-row requests for:
- ``ort``: onnxruntime in-process (c threads calling ``session.run``, the service's session
  options and thread count);
- ``service off`` / ``service on``: ``python -m mlops_inference`` with batching off / on;
- ``echo``: a no-op grpc.aio ``ModelInfer`` server answering a response of the same size,
at concurrency 1, 8 and 64, for the small default model and a larger MLP (64→4096→4096→10,
68 MB of weights: one row streams every weight from memory, a batch shares that read).
Servers and the load generator (grpc.aio, pre-serialised requests, ``c`` calls in flight,
spread over ``--clients`` processes) run in separate processes. Every cell is measured in
``--rounds`` interleaved rounds (off, on, echo, in-process one after the other) and the median
of the rounds is reported, so a burst of other work on the shared CPUs hits all setups alike.
Also compares the mean time of one ``session.run`` inside the service (its
``inference_batch_duration_seconds``) with the same call timed in-process at the same batch
size, and checks the issue's targets.

    .venv/bin/python benchmarks/inference_serving.py [--seconds 2] [--rounds 3] [--quick]

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
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "inference_serving.md"
METHOD = "/inference.GRPCInferenceService/ModelInfer"
CONCURRENCY = (1, 8, 64)
MODELS = {"default (64→128→10)": (128,), "larger (64→4096→4096→10)": (4096, 4096)}


# -- load generator (runs in its own process) ------------------------------------------------
async def _load(target: str, concurrency: int, seconds: float, rows: int) -> list[float]:
    """Keep ``concurrency`` calls in flight for ``seconds``; return their latencies (ms)."""
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
    return [1000.0 * x for x in latencies]


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
Stats = dict[str, float]


def _free_port() -> int:
    from mlops_common.testing.servers import free_port

    return free_port()


def _summary(latencies_ms: list[float], seconds: float) -> Stats:
    array = np.array(latencies_ms)
    rps = len(array) / seconds
    mean = float(array.mean())
    return {
        "rps": rps,
        "p50": float(np.percentile(array, 50)),
        "p99": float(np.percentile(array, 99)),
        "inflight": rps * mean / 1000.0,  # Little's law: calls really in flight on average
    }


def _client(port: int, concurrency: int, seconds: float, rows: int = 1, procs: int = 1) -> Stats:
    """Run the load generator in ``procs`` processes sharing ``concurrency`` calls in flight."""
    procs = max(1, min(procs, concurrency))
    shares = [concurrency // procs + (i < concurrency % procs) for i in range(procs)]
    running = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--client",
                f"127.0.0.1:{port}",
                str(share),
                str(seconds),
                str(rows),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for share in shares
    ]
    latencies: list[float] = []
    for proc in running:
        out, _ = proc.communicate(timeout=120)
        if proc.returncode:
            raise RuntimeError(f"load generator failed ({proc.returncode})")
        latencies += json.loads(out.strip().splitlines()[-1])
    return _summary(latencies, seconds)


def _metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = {}
    for name in (
        "inference_batch_size_sum", "inference_batch_size_count",
        "inference_batch_duration_seconds_sum", "inference_batch_duration_seconds_count",
    ):  # fmt: skip
        match = re.search(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M)
        values[name] = float(match.group(1)) if match else 0.0
    return values


class Service:
    """``python -m mlops_inference`` on free ports, as deployed (env settings, defaults)."""

    def __init__(self, model: Path, batching: bool) -> None:
        self.port, self.metrics_port = _free_port(), _free_port()
        env = os.environ | {
            "INFERENCE_MODEL_URI": str(model), "INFERENCE_BATCHING": "on" if batching else "off",
            "INFERENCE_PORT": str(self.port), "INFERENCE_METRICS_PORT": str(self.metrics_port),
            "INFERENCE_HOST": "127.0.0.1", "INFERENCE_WATCH_REDIS": "false",
            "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        self.proc = subprocess.Popen([sys.executable, "-m", "mlops_inference"], env=env)

    def wait_ready(self) -> Service:
        """Block until health says SERVING."""
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        deadline = time.monotonic() + 60
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                try:
                    status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    if status == health_pb2.HealthCheckResponse.SERVING:
                        return self
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise TimeoutError("inference service not SERVING after 60 s")

    def run(self, concurrency: int, seconds: float, rows: int = 1, procs: int = 1) -> Stats:
        """Load it; add the mean batch size and mean ``session.run`` ms of that window."""
        before = _metrics(self.metrics_port)
        result = _client(self.port, concurrency, seconds, rows, procs)
        after = _metrics(self.metrics_port)
        delta = {k: after[k] - before[k] for k in after}
        batches = max(delta["inference_batch_size_count"], 1.0)
        result["batch"] = delta["inference_batch_size_sum"] / batches
        result["batch_ms"] = 1000 * delta["inference_batch_duration_seconds_sum"] / batches
        return result

    def stop(self) -> None:
        """Terminate and reap the process."""
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _ort_session(model: Path):  # type: ignore[no-untyped-def]
    """A session built exactly as the service builds it (same options, same thread count)."""
    import onnxruntime as ort

    from mlops_inference.model import session_options
    from mlops_inference.settings import InferenceSettings

    threads = InferenceSettings(_env_file=None).cpu_threads()  # type: ignore[call-arg]
    return ort.InferenceSession(str(model), session_options(threads), ["CPUExecutionProvider"])


def ort_in_process(session, concurrency: int, seconds: float) -> Stats:  # type: ignore[no-untyped-def]
    """c threads each calling ``session.run`` on one row, as fast as they can."""
    x = np.random.default_rng(0).uniform(0, 16, (1, 64)).astype(np.float32)
    session.run(None, {"features": x})
    latencies: list[float] = []
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def worker() -> None:
        mine = []
        while (now := time.perf_counter()) < end:
            session.run(None, {"features": x})
            mine.append(1000 * (time.perf_counter() - now))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _summary(latencies, seconds) | {"batch": 1.0}


def ort_batch_ms(session, rows: int, calls: int, gap_s: float = 0.0) -> float:  # type: ignore[no-untyped-def]
    """Mean ms of one ``session.run`` on ``rows`` rows, each call timed alone (as the service).

    ``gap_s`` idles between calls as the service does between requests: a CPU that went idle
    runs a tiny model several times slower than one kept busy by back-to-back calls.
    """
    x = np.random.default_rng(0).uniform(0, 16, (rows, 64)).astype(np.float32)
    for _ in range(3):
        session.run(["probabilities"], {"features": x})
    total = 0.0
    for _ in range(calls):
        if gap_s:
            time.sleep(gap_s)
        started = time.perf_counter()
        session.run(["probabilities"], {"features": x})
        total += time.perf_counter() - started
    return 1000 * total / calls


def _median(runs: list[Stats]) -> Stats:
    return {key: float(np.median([r[key] for r in runs])) for key in runs[0]}


def _row(label: str, model: str, c: int, r: Stats) -> str:
    return (
        f"| {label} | {model} | {c} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
        f"| {r.get('batch', float('nan')):.1f} | {r['inflight']:.0f} |"
    )


def _check(name: str, ok: bool, detail: str) -> str:
    return f"| {name} | {detail} | {'PASS' if ok else 'FAIL'} |"


ECHO, ORT, OFF, ON = (
    "no-op grpc.aio echo",
    "onnxruntime in-process",
    "service, batching off",
    ("service, batching on"),
)
BATCH_ROWS = (1, 16, 64)


def run(seconds: float, concurrency: tuple[int, ...], rounds: int, clients: int) -> str:
    """Run every cell ``rounds`` times, interleaved; return the markdown report."""
    from mlops_common.testing.onnx_models import write_mlp_model

    folder = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    paths = {name: write_mlp_model(folder / f"m{i}.onnx", hidden) for i, (name, hidden)
             in enumerate(MODELS.items())}  # fmt: skip
    load_start = os.getloadavg()
    runs: dict[tuple[str, str, int], list[Stats]] = {}
    batch_runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
    echo_port = _free_port()
    echo = subprocess.Popen([sys.executable, __file__, "--echo", str(echo_port), "1"])
    try:
        for name, path in paths.items():
            services = {OFF: Service(path, False), ON: Service(path, True)}
            session = _ort_session(path)
            try:
                for service in services.values():
                    service.wait_ready()
                for round_ in range(rounds):
                    for c in concurrency:
                        procs = clients if c >= 32 else 1
                        cells: list[tuple[str, Callable[[], Stats]]] = [
                            (OFF, partial(services[OFF].run, c, seconds, 1, procs)),
                            (ON, partial(services[ON].run, c, seconds, 1, procs)),
                            (ORT, partial(ort_in_process, session, c, seconds)),
                        ]
                        if name == next(iter(paths)):
                            cells.append((ECHO, partial(_client, echo_port, c, seconds, 1, procs)))
                        for label, measure in cells[round_ % 2 :] + cells[: round_ % 2]:
                            result = measure()
                            runs.setdefault((label, name, c), []).append(result)
                            print(f"round {round_ + 1} " + _row(label, name, c, result), flush=True)
                    for rows in BATCH_ROWS:  # per-batch time: service (batching on) vs in-process
                        inside = services[ON].run(1, seconds / 2, rows)
                        calls = max(int(inside["rps"] * seconds / 2), 20)
                        gap = max(1 / inside["rps"] - inside["batch_ms"] / 1000, 0.0)
                        outside = ort_batch_ms(session, rows, calls)
                        paced = ort_batch_ms(session, rows, min(calls, 500), gap)
                        batch_runs.setdefault((name, rows), []).append(
                            (inside["batch_ms"], outside, paced)
                        )
                        print(f"round {round_ + 1} batch {name} {rows}: {inside['batch_ms']:.3f} "
                              f"vs {outside:.3f} / paced {paced:.3f} ms", flush=True)  # fmt: skip
            finally:
                for service in services.values():
                    service.stop()
    finally:
        echo.terminate()
        echo.wait()
    table = {key: _median(values) for key, values in runs.items()}
    return _report(table, batch_runs, concurrency, seconds, rounds, clients, load_start)


def _report(
    table: dict[tuple[str, str, int], Stats],
    batch_runs: dict[tuple[str, int], list[tuple[float, float, float]]],
    concurrency: tuple[int, ...],
    seconds: float,
    rounds: int,
    clients: int,
    load_start: tuple[float, float, float],
) -> str:
    order = [(ECHO, "-")] + [(label, name) for name in MODELS for label in (ORT, OFF, ON)]
    lines = [
        _row(label, model, c, table[(label, name, c)])
        for label, model in order
        for c in concurrency
        for name in ([next(iter(MODELS))] if label == ECHO else [model])
    ]
    batch_lines = []
    batch_table: dict[tuple[str, int], tuple[float, float, float]] = {}
    for (name, rows), triples in batch_runs.items():
        inside, outside, paced = (float(np.median([t[i] for t in triples])) for i in range(3))
        batch_table[(name, rows)] = (inside, outside, paced)
        batch_lines.append(
            f"| {name} | {rows} | {inside:.3f} | {outside:.3f} | {inside / outside:.2f} "
            f"| {paced:.3f} | {inside / paced:.2f} |"
        )
    load_end = os.getloadavg()
    return "\n".join(
        [
            "# Inference serving benchmark",
            "",
            f"One-row requests; {seconds:g} s per cell after 0.5 s warm-up; median of {rounds} "
            f"interleaved rounds. Load generator in its own process(es) ({clients} at c ≥ 32); "
            f"'in flight' = req/s × mean latency (Little's law), the concurrency really "
            f"sustained. {os.cpu_count()} CPUs shared with other engineers' work: load average "
            f"{load_start[0]:.1f} at start, {load_end[0]:.1f} at the end (1-min), "
            f"{load_end[2]:.1f} (15-min). Mean batch = rows per model run. Services run with "
            "their defaults (onnxruntime intra-op threads = every CPU, no spans without an "
            "OTLP endpoint).",
            "",
            "| setup | model | c | req/s | p50 ms | p99 ms | mean batch | in flight |",
            "|---|---|---|---|---|---|---|---|",
            *lines,
            "",
            "## Time per batch: one `session.run` inside the service vs in-process",
            "",
            "Service: mean of `inference_batch_duration_seconds` (only `session.run` is timed) "
            "while one client sends requests of that many rows; in-process: the same session "
            "options, each call timed alone — back to back, and paced (idling between calls "
            "as long as the service idles between requests, the same arrival pattern). "
            "A tiny model runs several times slower on a CPU that idled in between "
            "(caches and clocks go cold): that, not the service, is the back-to-back gap.",
            "",
            "| model | batch rows | service ms | in-process back-to-back ms | ratio "
            "| in-process paced ms | ratio |",
            "|---|---|---|---|---|---|---|",
            *batch_lines,
            "",
            "## Targets",
            "",
            "| target | measured | verdict |",
            "|---|---|---|",
            *_checks(table, batch_table, concurrency),
            "",
        ]
    )


def _checks(
    table: dict[tuple[str, str, int], Stats],
    batch_table: dict[tuple[str, int], tuple[float, float, float]],
    cs: tuple[int, ...],
) -> list[str]:
    small, big = list(MODELS)
    hi, lo = max(cs), min(cs)
    checks = []
    r_on, r_off = table[(ON, big, hi)], table[(OFF, big, hi)]
    ratio = r_on["rps"] / r_off["rps"]
    checks.append(_check(f"batching on ≥ 3× off, larger model, c={hi}", ratio >= 3,
                         f"{ratio:.2f}×"))  # fmt: skip
    checks.append(_check(f"p99 on ≤ off, larger model, c={hi}", r_on["p99"] <= r_off["p99"],
                         f"{r_on['p99']:.1f} vs {r_off['p99']:.1f} ms"))  # fmt: skip
    for model in (small, big):
        p_on, p_off = table[(ON, model, lo)]["p50"], table[(OFF, model, lo)]["p50"]
        checks.append(_check(f"c={lo} p50 on ≤ 1.1× off ({model})", p_on <= 1.1 * p_off,
                             f"{p_on:.2f} vs {p_off:.2f} ms ({p_on / p_off:.2f}×)"))  # fmt: skip
    for c in cs:
        best = max(table[(ON, small, c)]["rps"], table[(OFF, small, c)]["rps"])
        echo = table[(ECHO, small, c)]["rps"]
        checks.append(_check(f"service ≥ 0.6× echo throughput, c={c} (default model)",
                             best >= 0.6 * echo, f"{best / echo:.2f}×"))  # fmt: skip
    for (name, rows), (inside, outside, paced) in batch_table.items():
        ratio = inside / paced
        label = f"per-batch time ≤ 1.15× in-process, same pacing ({name}, {rows} rows)"
        detail = f"{ratio:.2f}× (back-to-back: {inside / outside:.2f}×)"
        checks.append(_check(label, ratio <= 1.15, detail))
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
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per cell")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median kept)")
    parser.add_argument("--clients", type=int, default=2, help="load processes at c ≥ 32")
    parser.add_argument("--quick", action="store_true", help="1 s per cell, one round")
    args = parser.parse_args()
    seconds, rounds = (1.0, 1) if args.quick else (args.seconds, args.rounds)
    report = run(seconds, CONCURRENCY, rounds, args.clients)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)
    print(f"saved to {RESULTS}")


if __name__ == "__main__":
    main()
