"""The serving-frameworks benchmark's report: medians per cell, same-round ratios, the issue's
checks, and the Markdown written to ``benchmarks/results/serving_frameworks.md``."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _gateway_report import Cell

RESULTS = Path(__file__).resolve().parent / "results" / "serving_frameworks.md"
Round = dict[tuple[str, int], Cell]
Rounds = list[Round]
REST_GROUPS = ("gateway", "inference", "redis")


@dataclass(frozen=True)
class Spread:
    """A value taken within each round: its median and range over the rounds."""

    median: float
    low: float
    high: float

    @classmethod
    def over(cls, rounds: Rounds, value: Callable[[Round], float]) -> Spread | None:
        """``value`` of every round that has the cells it reads (None when no round has)."""
        values = []
        for cells in rounds:
            try:
                values.append(value(cells))
            except KeyError:
                continue
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values))

    def text(self, digits: int = 2) -> str:
        """``median (low–high)``."""
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}–{self.high:.{digits}f})"


def rps_ratio(a: str, b: str, concurrency: int) -> Callable[[Round], float]:
    """Throughput of ``a`` over ``b`` at ``concurrency``, within a round."""
    return lambda r: r[(a, concurrency)].rps / r[(b, concurrency)].rps


def p50_of(name: str, concurrency: int = 1) -> Callable[[Round], float]:
    """p50 latency (ms) of ``name``."""
    return lambda r: r[(name, concurrency)].p50_ms


def rest_cpu_us(concurrency: int, name: str = "rest") -> Callable[[Round], float]:
    """CPU µs per request of the whole REST path (gateway + inference + redis-server)."""
    return lambda r: sum(r[(name, concurrency)].cpu_us[g] for g in REST_GROUPS)


def cpu_ratio(concurrency: int) -> Callable[[Round], float]:
    """REST-path CPU per request of the current code over ``rest-before``'s, within a round."""
    return lambda r: rest_cpu_us(concurrency)(r) / rest_cpu_us(concurrency, "rest-before")(r)


def checks(rounds: Rounds, baseline_cpu_us: float) -> list[tuple[str, Spread | None, bool | None]]:
    """The issue's "must show" checks: (what, measured, met); None where a cell is missing."""
    rows: list[tuple[str, Callable[[Round], float], Callable[[float], bool]]]
    if any(("rest-before", 32) in r for r in rounds):
        rows = [("REST-path CPU per request at c=32 ≤ 0.5× rest-before's (ratio)", cpu_ratio(32),
                 lambda v: v <= 0.5)]  # fmt: skip
    else:
        rows = [(f"REST-path CPU µs/request at c=32 ≤ 0.5 × {baseline_cpu_us:.0f}",
                 rest_cpu_us(32), lambda v: v <= 0.5 * baseline_cpu_us)]  # fmt: skip
    for other in ("mlserver", "fastapi-torch"):
        for c in (32, 64):
            rows.append(
                (f"rest ≥ 2× {other} throughput at c={c}", rps_ratio("rest", other, c),
                 lambda v: v >= 2.0)
            )  # fmt: skip
    rows += [
        ("rest c=1 p50 ≤ fastapi-torch c=1 p50 (ratio)",
         lambda r: p50_of("rest")(r) / p50_of("fastapi-torch")(r), lambda v: v <= 1.0),
        ("rest ≥ 0.9× grpc throughput at c=32", rps_ratio("rest", "grpc", 32), lambda v: v >= 0.9),
    ]  # fmt: skip
    out = []
    for name, value, target in rows:
        spread = Spread.over(rounds, value)
        out.append((name, spread, None if spread is None else target(spread.median)))
    return out


def median_table(rounds: Rounds) -> list[str]:
    """One row per cell: medians over the rounds."""
    median = statistics.median
    lines = [
        "| target | c | req/s | p50 ms | p99 ms | errors "
        "| CPU µs/request, by server process tree |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    keys = sorted(rounds[0], key=lambda k: (k[1], list(rounds[0]).index(k)))
    for key in keys:
        cells = [r[key] for r in rounds if key in r]
        groups = {g: median([c.cpu_us.get(g, 0.0) for c in cells]) for g in cells[0].cpu_us}
        cpu = ", ".join(f"{g} {v:.0f}" for g, v in groups.items())
        if len(groups) > 1:
            cpu += f" (total {sum(groups.values()):.0f})"
        values = [median([getattr(c, f) for c in cells]) for f in ("rps", "p50_ms", "p99_ms")]
        lines.append(
            f"| {key[0]} | {key[1]} | {values[0]:.0f} | {values[1]:.2f} | {values[2]:.2f} "
            f"| 0 | {cpu} |"
        )
    return lines


def ratio_table(rounds: Rounds) -> list[str]:
    """The same-round comparisons: median (range) over the rounds."""
    rows: list[tuple[str, Callable[[Round], float], int]] = [
        ("rest / grpc req/s, c=32", rps_ratio("rest", "grpc", 32), 2)
    ]
    for c in (32, 64):
        rows.append((f"rest / mlserver req/s, c={c}", rps_ratio("rest", "mlserver", c), 2))
        torch_ratio = rps_ratio("rest", "fastapi-torch", c)
        rows.append((f"rest / fastapi-torch req/s, c={c}", torch_ratio, 2))
    rows += [
        ("rest p50 ms, c=1", p50_of("rest"), 2),
        ("fastapi-torch p50 ms, c=1", p50_of("fastapi-torch"), 2),
        ("fastapi-onnx p50 ms, c=1", p50_of("fastapi-onnx"), 2),
        ("rest − fastapi-onnx p50 ms, c=1 (what the two hops cost)",
         lambda r: p50_of("rest")(r) - p50_of("fastapi-onnx")(r), 2),
        ("REST-path CPU µs/request, c=32 (gateway + inference + redis)", rest_cpu_us(32), 0),
    ]  # fmt: skip
    if any(("rest-before", 32) in r for r in rounds):
        rows += [
            ("rest-before CPU µs/request, c=32", rest_cpu_us(32, "rest-before"), 0),
            ("rest / rest-before CPU per request, c=32", cpu_ratio(32), 2),
            *((f"rest / rest-before req/s, c={c}", rps_ratio("rest", "rest-before", c), 2)
              for c in (32, 64)),
            ("rest-before p50 ms, c=1", p50_of("rest-before"), 2),
        ]  # fmt: skip
    lines = ["| comparison | median (range) |", "|---|---:|"]
    for name, value, digits in rows:
        spread = Spread.over(rounds, value)
        lines.append(f"| {name} | {spread.text(digits) if spread else 'not measured'} |")
    return lines


def report(rounds: Rounds, args: argparse.Namespace) -> str:
    """Print the report and save it to ``args.output`` (``RESULTS`` by default)."""
    versions = ", ".join(f"{k} {v}" for k, v in args.versions.items())
    venvs = ", ".join(f"{k} {v:.0f} s" for k, v in args.venv_s.items())
    lines = [
        "# Serving frameworks side by side",
        "",
        f"Host: {args.host}; load average (1-min) {args.load_start[0]:.1f} at the start, "
        f"{args.load_end[0]:.1f} at the end; code: {args.code}. Versions: {versions}.",
        "",
        f"Model: the default trained digits CNN (ONNX from the pipeline's export; the torch app "
        f"loads its state_dict). One row per request; {args.duration:g} s per cell after "
        f"{args.warmup:g} s warm-up; {args.rounds} rounds, every cell back to back in a target "
        f"order rotating from round to round; closed-loop load generators in their own processes "
        f"(1 at c ≤ 8, {args.clients} above). Every target was warmed up with 200 requests whose "
        "answers were checked (same class as the ONNX model); any non-200 fails the run.",
        "",
        "- **rest**: gateway (1 uvicorn worker, traffic logging on to a real redis-server) → gRPC "
        "→ inference service (batching on, its defaults); CPU of gateway, inference, redis-server.",
        "- **grpc**: OIP `ModelInfer` straight to the same inference service.",
        "- **mlserver**: MLServer, custom runtime on onnxruntime (the inference service's "
        "session options), adaptive batching (max 64 rows, 2 ms), its default 1 parallel worker, "
        "metrics on (its default), debug off (no access log); CPU of its whole process tree.",
        "- **fastapi-torch**: one-file FastAPI app, eager PyTorch, `torch.no_grad()`, sync "
        "endpoint, torch threads left at their default (intra-op, inter-op: "
        f"{args.torch_threads}); uvicorn, 1 worker, no access log.",
        "- **fastapi-onnx**: the same app on onnxruntime with the inference service's options.",
        *(
            [f"- **rest-before**: the REST path as commit {args.before} had it, the same setup."]
            if getattr(args, "before", None)
            else []
        ),
        "",
        f"Run: {args.total_s / 60:.1f} min in all (training {args.train_s:.0f} s, venvs {venvs}; "
        "0 = reused).",
        "",
        "Medians over the rounds (errors: failed requests, 0 or the run fails):",
        "",
        *median_table(rounds),
        "",
        "Same-round comparisons, median (range) over the rounds:",
        "",
        *ratio_table(rounds),
        "",
        "The issue's targets (same-round values; met on the median):",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
    ]
    for name, spread, met in checks(rounds, args.baseline_cpu_us):
        text = "not measured" if spread is None else spread.text(0 if "µs" in name else 2)
        lines.append(f"| {name} | {text} | {'–' if met is None else 'yes' if met else 'NO'} |")
    text = "\n".join([*lines, ""])
    print(text)
    output = Path(getattr(args, "output", RESULTS))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return text
