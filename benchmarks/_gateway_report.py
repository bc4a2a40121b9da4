"""The gateway benchmark's measurements (:class:`Cell`) and its report (Markdown tables)."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "gateway_overhead.md"
DIRECT, ON, OFF = "direct gRPC", "gateway, logging on", "gateway, logging off"
CONTROL = "gateway, logging off (A/A control)"


@dataclass(frozen=True)
class Cell:
    """One target at one concurrency for one round."""

    rps: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    cpu_us: dict[str, float] = field(default_factory=dict)  # CPU µs per request, by process

    @classmethod
    def of(cls, latencies: list[float], duration: float, cpu_us: dict[str, float]) -> Cell:
        """Statistics of the latencies (s) measured over ``duration`` seconds."""
        ordered = sorted(latencies)
        n = len(ordered)
        return cls(
            rps=n / duration,
            p50_ms=ordered[n // 2] * 1000,
            p99_ms=ordered[min(n - 1, int(n * 0.99))] * 1000,
            mean_ms=statistics.fmean(ordered) * 1000,
            cpu_us=cpu_us,
        )

    def __str__(self) -> str:
        return (
            f"{self.rps:7.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  "
            + "  ".join(f"{k} {v:.0f} µs" for k, v in self.cpu_us.items() if v)
        )


Rounds = list[dict[tuple[str, int], Cell]]


def _per_round(rounds: Rounds, value: Callable[[dict[tuple[str, int], Cell]], float]) -> str:
    values = [value(r) for r in rounds]
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def report(
    rounds: Rounds,
    metrics: str,
    args: argparse.Namespace,
) -> str:
    """Print the report and save it to ``benchmarks/results/gateway_overhead.md``."""
    median = statistics.median
    keys = list(rounds[0])
    med = {
        key: {
            name: median([getattr(r[key], name) for r in rounds])
            for name in ("rps", "p50_ms", "p99_ms", "mean_ms")
        }
        for key in keys
    }
    lines = [
        "# Gateway overhead: REST gateway vs direct gRPC",
        "",
        f"Host: {args.host}; load average (1-min) {args.load_start[0]:.1f} at the start, "
        f"{args.load_end[0]:.1f} at the end.",
        f"One instance per request; {args.duration:g} s per cell after {args.warmup:g} s warm-up; "
        f"{args.repeats} rounds, each with fresh gateway processes and every cell measured back to "
        f"back in a rotating order; load generators in their own processes ({args.clients} at "
        "c=32). Gateway: 1 uvicorn worker (uvloop, httptools), no OTLP endpoint (no spans), "
        "traffic logging to a real redis-server on the same host.",
        "",
        "Medians over the rounds:",
        "",
        "| target | concurrency | req/s | p50 ms | p99 ms | mean ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, concurrency in keys:
        m = med[(label, concurrency)]
        cells = (f"{m['rps']:.0f}", *(f"{m[k]:.2f}" for k in ("p50_ms", "p99_ms", "mean_ms")))
        lines.append(f"| {label} | {concurrency} | " + " | ".join(cells) + " |")

    def ratio(a: str, b: str) -> Callable[[dict[tuple[str, int], Cell]], float]:
        return lambda r: r[(a, 32)].rps / r[(b, 32)].rps

    def added(r: dict[tuple[str, int], Cell]) -> float:
        return r[(ON, 1)].p50_ms - r[(DIRECT, 1)].p50_ms

    checks = [
        ("gateway (logging on) ≥ 0.5× direct gRPC throughput at c=32", ratio(ON, DIRECT), 0.5, 1),
        ("added p50 ≤ 1 ms at c=1 (ms)", added, 1.0, -1),
        ("logging on ≥ 0.95× logging off at c=32", ratio(ON, OFF), 0.95, 1),
    ]
    lines += [
        "",
        "Each comparison is taken within a round (adjacent cells); median (range) over rounds:",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
    ]
    for name, value, bound, sign in checks:
        mid = statistics.median(value(r) for r in rounds)
        met = (mid - bound) * sign >= 0
        lines.append(f"| {name} | {_per_round(rounds, value)} | {'yes' if met else 'NO'} |")
    lines.append(
        "| noise floor: logging off vs an identical logging-off gateway at c=32 (no target) | "
        f"{_per_round(rounds, ratio(OFF, CONTROL))} | – |"
    )

    lines += [
        "",
        "CPU time per request at c=32 (µs, median over rounds), by server process:",
        "",
        "| target | gateway | inference | redis-server |",
        "|---|---:|---:|---:|",
    ]
    for label in (DIRECT, ON, OFF, CONTROL):
        cpu = [r[(label, 32)].cpu_us for r in rounds]
        gateway = median([c.get(label, 0.0) for c in cpu]) if label != DIRECT else 0.0
        row = [gateway, median([c["inference"] for c in cpu]), median([c["redis"] for c in cpu])]
        lines.append(f"| {label} | " + " | ".join(f"{v:.0f}" for v in row) + " |")
    logged = [
        line
        for line in metrics.splitlines()
        if line.startswith(("gateway_traffic_logged_total", "gateway_traffic_dropped_total"))
    ]
    lines += ["", "Traffic counters of the logging gateway after the run:", "", "```"]
    lines += [*logged, "```", ""]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return text
