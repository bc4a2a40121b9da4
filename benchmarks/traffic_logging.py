"""CPU per logged traffic entry: the gateway's ``TrafficLogger`` against a real redis-server.

The end-to-end gateway benchmark (gateway_overhead.py) sees logging's cost only through its
noise (two identical gateways differ by ~60 µs per request on 2 cores); this one measures the
flush alone, in process (so it cannot show what a flush costs the serving event loop: the end to
end benchmark decides between designs): batches of ``--batch`` one-instance requests (what c=32
gives per 50 ms flush), CPU time of this process and of redis-server per entry. Prints a table
and saves it to ``benchmarks/results/traffic_logging.md``. The target (logging on costs ≤ 8 %
more CPU per request than off) is checked end to end by gateway_overhead.py; this shows the cost
without its noise.

    .venv/bin/python benchmarks/traffic_logging.py [--batch 90] [--batches 60] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
import uuid
from pathlib import Path

import numpy as np
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from mlops_common.redis_keys import traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.servers import RedisServer
from mlops_gateway.traffic import TrafficLogger, TrafficRecord

STREAM = traffic_stream(MODEL_NAME)

RESULTS = Path(__file__).parent / "results" / "traffic_logging.md"


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (from ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests(count: int, rng: np.random.Generator) -> list[TrafficRecord]:
    """``count`` one-instance requests as the gateway records them."""
    return [
        TrafficRecord(
            model="digits-classifier",
            request_id=uuid.uuid4().hex,
            model_version="1",
            ids=[uuid.uuid4().hex],
            features=rng.uniform(0, 16, (1, 64)).astype(np.float32),
            labels=[int(rng.integers(10))],
            confidences=[float(rng.random())],
            latency_ms=1.2,
            timestamp=time.time(),
        )
        for _ in range(count)
    ]


async def measure(url: str, pid: int, args: argparse.Namespace) -> list[tuple[float, float]]:
    """(gateway µs, redis µs) per entry, one pair per repeat."""
    entries = args.batch * args.batches
    redis = Redis.from_url(url)
    redis.delete(STREAM)
    client = AsyncRedis.from_url(url)
    logger = TrafficLogger(
        client, capacity=10 * args.batch, batch_size=args.batch, stream_maxlen=10 * entries
    )
    rng = np.random.default_rng(0)
    batches = [requests(args.batch, rng) for _ in range(args.batches)]
    results = []
    for _ in range(args.repeats):
        own, server = time.process_time(), process_cpu_s(pid)
        for batch in batches:
            for record in batch:
                logger.offer(record)
            await logger.flush()
        results.append(
            (
                (time.process_time() - own) / entries * 1e6,
                (process_cpu_s(pid) - server) / entries * 1e6,
            )
        )
    if logger.dropped or redis.xlen(STREAM) != entries * args.repeats:
        raise RuntimeError(f"{logger.dropped} entries dropped: the figures are not of a full write")
    redis.close()
    await client.aclose()
    return results


def main() -> None:
    """Measure, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=90, help="entries per flush")
    parser.add_argument("--batches", type=int, default=60, help="flushes per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    server = RedisServer().start()
    try:
        assert server.pid is not None
        results = asyncio.run(measure(server.url, server.pid, args))
    finally:
        server.stop()
    gateway = statistics.median(g for g, _ in results)
    redis = statistics.median(r for _, r in results)
    lines = [
        "# Traffic logging: CPU per logged entry",
        "",
        f"Host: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{args.batch} one-instance requests per flush, {args.batches} flushes, "
        f"{args.repeats} repeats (median).",
        "",
        "| process | µs per entry | per repeat |",
        "|---|---:|---|",
        f"| gateway (this process) | {gateway:.1f} | {', '.join(f'{g:.1f}' for g, _ in results)} |",
        f"| redis-server | {redis:.1f} | {', '.join(f'{r:.1f}' for _, r in results)} |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_save:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
