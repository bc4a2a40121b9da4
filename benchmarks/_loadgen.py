"""Closed-loop load generators for the gateway benchmark, each run as its own process.

- ``grpc``: ``ModelInfer`` with raw contents over one grpc.aio channel (what the gateway does),
  decoding the answer like the gateway does, so both sides pay for it;
- ``http``: ``POST /v1/predict`` (or ``PATH`` with the JSON body in file ``BODY``) over keep-alive
  HTTP/1.1 with a minimal asyncio client, so the client's own cost stays small.

Each of ``concurrency`` workers sends one request, waits for its answer, and sends the next.
It prints one JSON object on stdout: ``latencies`` (seconds, after the warm-up) and
``requests`` (all answered, warm-up included, for CPU time per request).

    python benchmarks/_loadgen.py grpc|http TARGET CONCURRENCY DURATION WARMUP [PATH BODY]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

INSTANCE = [float(i % 17) for i in range(64)]


async def grpc_run(
    target: str, concurrency: int, duration: float, warmup: float
) -> tuple[list[float], int]:
    """Drive ``ModelInfer`` on ``host:port``; the latencies after warm-up, and all requests."""
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
    answered = 0
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        await stub.ModelInfer(request, timeout=10)
        warm_until = time.perf_counter() + warmup
        stop_at = warm_until + duration

        async def worker() -> None:
            nonlocal answered
            while (now := time.perf_counter()) < stop_at:
                response = await stub.ModelInfer(request, timeout=10)
                np.frombuffer(response.raw_output_contents[0], dtype="<f4").argmax()
                answered += 1
                if now >= warm_until:
                    latencies.append(time.perf_counter() - now)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, answered + 1


async def http_run(
    url: str,
    concurrency: int,
    duration: float,
    warmup: float,
    path: str = "/v1/predict",
    body: bytes | None = None,
) -> tuple[list[float], int]:
    """Drive ``POST path`` on ``http://host:port`` (a digits row unless ``body`` is given); the
    latencies after warm-up, and all requests."""
    host, port = url.removeprefix("http://").split(":")
    body = body or json.dumps({"instances": [INSTANCE]}).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    answered = 0
    warm_until = time.perf_counter() + warmup
    stop_at = warm_until + duration

    async def worker() -> None:
        nonlocal answered
        reader, writer = await asyncio.open_connection(host, int(port))
        while (now := time.perf_counter()) < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            json.loads(await reader.readexactly(length))
            answered += 1
            if now >= warm_until:
                latencies.append(time.perf_counter() - now)
        writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, answered


def drive(
    kind: str,
    target: str,
    concurrency: int,
    clients: int,
    duration: float,
    warmup: float,
    extra: Sequence[str] = (),
) -> tuple[list[float], int]:
    """Run ``clients`` load-generator processes of this file sharing ``concurrency`` requests in
    flight (``extra``: the optional ``PATH BODY``); their latencies after warm-up, and all the
    requests they had answered."""
    procs = []
    for i in range(clients):
        share = concurrency // clients + (i < concurrency % clients)
        argv = [kind, target, str(share), str(duration), str(warmup), *extra]
        command = [sys.executable, str(Path(__file__)), *argv]
        procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    latencies: list[float] = []
    requests = 0
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        if proc.returncode:
            raise RuntimeError(f"{kind} load on {target} failed ({proc.returncode})")
        result = json.loads(out.strip().splitlines()[-1])
        latencies += result["latencies"]
        requests += result["requests"]
    return latencies, requests


def main(argv: list[str]) -> None:
    """Run one load and print its latencies and request count as JSON."""
    kind, target, concurrency, duration, warmup, *custom = argv
    load = (target, int(concurrency), float(duration), float(warmup))
    if kind == "grpc":
        latencies, requests = asyncio.run(grpc_run(*load))
    else:
        path, body = (custom[0], Path(custom[1]).read_bytes()) if custom else ("/v1/predict", None)
        latencies, requests = asyncio.run(http_run(*load, path=path, body=body))
    print(json.dumps({"latencies": latencies, "requests": requests}))


if __name__ == "__main__":
    main(sys.argv[1:])
