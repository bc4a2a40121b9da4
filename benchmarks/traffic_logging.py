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
from typing import Any

import numpy as np
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from mlops_common.redis_keys import traffic_stream
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.servers import RedisServer
from mlops_gateway.traffic import TrafficLogger, TrafficRecord
from mlops_gateway.traffic_records import encode_columns
from mlops_gateway.traffic_scripts import APPEND_COLUMNS, INDEX_ENTRIES, index_args

STREAM = traffic_stream(MODEL_NAME)
INDEX = "bench:prediction-index"
#: Passes over the batches per repeat of each way in :func:`redis_parts` (finer than a tick).
PART_PASSES = 5
_XADD = "redis.call('XADD', KEYS[1], '*', unpack(fields))"
#: The append script with its XADD left out: what splitting the columns costs in Lua.
SPLIT_ONLY = APPEND_COLUMNS.replace(_XADD, "local _ = fields")
if _XADD not in APPEND_COLUMNS:
    raise RuntimeError("the append script's XADD line changed: update SPLIT_ONLY")

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


def part_entries(args: argparse.Namespace) -> int:
    """Entries written per repeat of each way in :func:`redis_parts`."""
    return PART_PASSES * args.batch * args.batches


def redis_parts(url: str, pid: int, args: argparse.Namespace) -> dict[str, list[float]]:
    """redis-server µs per entry of each way of writing the same batches, one value per repeat."""
    redis = Redis.from_url(url)
    rng = np.random.default_rng(1)
    batches = [requests(args.batch, rng) for _ in range(args.batches)]
    encoded = [encode_columns(batch) for batch in batches]
    append, split = redis.register_script(APPEND_COLUMNS), redis.register_script(SPLIT_ONLY)
    index = redis.register_script(INDEX_ENTRIES)
    maxlen = 10 * args.batch * args.batches

    def script(run: Any) -> None:
        for n, columns in encoded:
            run(keys=[STREAM], args=[maxlen, n, len(columns) // 3, *columns])

    def native() -> None:
        for batch in batches:
            pipe = redis.pipeline(transaction=False)
            for record in batch:
                for entry in record.entries():
                    pipe.xadd(STREAM, entry.encode())
            pipe.execute()

    def indexed() -> None:
        for batch in batches:
            fields: dict[str, str] = {}
            for record in batch:
                fields.update(record.index_fields())
            index(keys=[INDEX], args=[int(time.time()) + 3600, *index_args(fields)])

    ways = {
        "append script (as the gateway sends it)": lambda: script(append),
        "the same script without its XADD (splitting the columns)": lambda: script(split),
        "native XADD per entry, pipelined (the stream contract's floor)": native,
        "prediction-id index script": indexed,
    }
    parts: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, way in ways.items():
            redis.delete(STREAM, INDEX)
            before = process_cpu_s(pid)
            for _ in range(PART_PASSES):
                way()
            parts[name].append((process_cpu_s(pid) - before) / part_entries(args) * 1e6)
    redis.close()
    return parts


def index_bytes(url: str, count: int) -> dict[str, float]:
    """Bytes of the prediction-id index per one-instance request, by where its id comes from."""
    redis = Redis.from_url(url)
    index = redis.register_script(INDEX_ENTRIES)
    found = {}
    sources = (("the gateway's request id", False), ("a client's X-Request-ID", True))
    for label, client_id in sources:
        redis.delete(INDEX)
        for start in range(0, count, 1000):
            fields: dict[str, str] = {}
            for _ in range(min(1000, count - start)):
                prediction = uuid.uuid4().hex
                request = uuid.uuid4().hex if client_id else prediction
                record = TrafficRecord(
                    MODEL_NAME, request, "1", [prediction], np.zeros((1, 64), np.float32),
                    [1], [0.5], 1.0, time.time(),
                )  # fmt: skip
                fields.update(record.index_fields())
            index(keys=[INDEX], args=[int(time.time()) + 3600, *index_args(fields)])
        found[label] = float(redis.memory_usage(INDEX, samples=0) or 0) / count
    redis.delete(INDEX)
    redis.close()
    return found


def main() -> None:
    """Measure, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=90, help="entries per flush")
    parser.add_argument("--batches", type=int, default=60, help="flushes per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--index-size", type=int, default=100_000, help="requests indexed")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    server = RedisServer().start()
    try:
        assert server.pid is not None
        results = asyncio.run(measure(server.url, server.pid, args))
        parts = redis_parts(server.url, server.pid, args)
        memory = index_bytes(server.url, args.index_size)
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
        "",
        "redis-server's part, by what it runs for the same entries (blocking client; CPU from "
        f"`/proc` in ticks of {1e6 / os.sysconf('SC_CLK_TCK') / part_entries(args):.2f}"
        " µs per entry):",
        "",
        "| redis-server runs | µs per entry | per repeat |",
        "|---|---:|---|",
        *(
            f"| {name} | {statistics.median(values):.1f} | "
            f"{', '.join(f'{v:.1f}' for v in values)} |"
            for name, values in parts.items()
        ),
        "",
        f"Prediction-id index memory per one-instance request ({args.index_size:,} requests "
        "in one hourly hash, `MEMORY USAGE`):",
        "",
        "| the request's id | bytes per prediction |",
        "|---|---:|",
        *(f"| {label} | {size:.0f} |" for label, size in memory.items()),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_save:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
