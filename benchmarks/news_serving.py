"""News predictions through the gateway next to digits': req/s and latency at c=1 and c=32.

    .venv/bin/python benchmarks/news_serving.py [--duration 8] [--rounds 3]

Trains both built-in models into a throwaway MLflow store (``mlops-train bootstrap``), serves them
from one ``python -m mlops_inference`` (``INFERENCE_MODELS=digits-classifier,news-classifier``)
behind one ``python -m mlops_gateway`` logging traffic to a private ``redis-server``, and drives
``POST /v1/models/<name>/predict`` from separate load-generator processes
(``benchmarks/_loadgen.py``): a digits row, or one BBC test article of median length (the text
goes through the tokenizer inside the graph, and is logged with its 66 monitored values). The
two models alternate within each round. Prints a table; saves benchmarks/results/news_serving.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from mlops_common.news_spec import NEWS_MODEL_NAME
from mlops_common.registry import MODEL_NAME
from mlops_common.testing.servers import RedisServer, free_port, stop_process_group, wait_for_port
from mlops_trainer.news_data import load_text_split

RESULTS = Path(__file__).parent / "results" / "news_serving.md"
LOADGEN = Path(__file__).with_name("_loadgen.py")
DIGITS_ROW = [float(i % 17) for i in range(64)]


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _load(url: str, path: str, body: Path, concurrency: int, duration: float) -> dict[str, float]:
    """One load-generator process: req/s, p50 and p99 (ms)."""
    command = [sys.executable, str(LOADGEN), "http", url, str(concurrency), str(duration), "1",
               path, str(body)]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
    latencies = np.array(json.loads(out.strip().splitlines()[-1])["latencies"]) * 1000
    return {"rps": len(latencies) / duration, "p50": float(np.percentile(latencies, 50)),
            "p99": float(np.percentile(latencies, 99))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="news-serving-"))
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", "MLOPS_STATE_DIR": str(root),
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlops_trainer", "bootstrap"], env={**os.environ, **env},
                   check=True, capture_output=True)  # fmt: skip
    print(f"bootstrap (both models): {time.perf_counter() - started:.0f} s", flush=True)
    split, _ = load_text_split("bbc", seed=42, val_fraction=0.1, test_fraction=0.2)
    lengths = np.array([len(text) for text in split.x_test])
    article = str(split.x_test[int(np.argsort(lengths)[len(lengths) // 2])])
    bodies = {MODEL_NAME: root / "digits.json", NEWS_MODEL_NAME: root / "news.json"}
    bodies[MODEL_NAME].write_text(json.dumps({"instances": [DIGITS_ROW]}))
    bodies[NEWS_MODEL_NAME].write_text(json.dumps({"texts": [article]}))
    redis = RedisServer().start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        inference_port, gateway_port = free_port(), free_port()
        common = {**env, "REDIS_URL": redis.url}
        procs.append(_spawn(
            [sys.executable, "-m", "mlops_inference"],
            {**common, "INFERENCE_MODELS": f"{MODEL_NAME},{NEWS_MODEL_NAME}",
             "INFERENCE_HOST": "127.0.0.1", "INFERENCE_PORT": str(inference_port),
             "INFERENCE_METRICS_PORT": "-1"},
            root / "inference.log",
        ))  # fmt: skip
        wait_for_port("127.0.0.1", inference_port, 120)
        procs.append(_spawn(
            [sys.executable, "-m", "mlops_gateway"],
            {**common, "GATEWAY_PORT": str(gateway_port), "GATEWAY_HOST": "127.0.0.1",
             "GATEWAY_INFERENCE_TARGET": f"127.0.0.1:{inference_port}"},
            root / "gateway.log",
        ))  # fmt: skip
        url = f"http://127.0.0.1:{gateway_port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"gateway not ready; see {root}")
            time.sleep(0.3)
        headers = {"Content-Type": "application/json"}
        with httpx.Client(base_url=url, timeout=30) as client:  # warm both paths up
            for name, body in bodies.items():
                for _ in range(100):
                    path = f"/v1/models/{name}/predict"
                    client.post(path, content=body.read_bytes(), headers=headers).raise_for_status()
        cells: dict[tuple[str, int], list[dict[str, float]]] = {}
        for _ in range(args.rounds):
            for concurrency in (1, 32):
                for name, body in bodies.items():
                    path = f"/v1/models/{name}/predict"
                    cell = _load(url, path, body, concurrency, args.duration)
                    cells.setdefault((name, concurrency), []).append(cell)
    finally:
        for proc in procs:
            stop_process_group(proc)
        redis.stop()
    report(cells, len(article), args)


def report(cells: dict[tuple[str, int], list[dict[str, float]]], chars: int, args) -> None:  # type: ignore[no-untyped-def]
    """Print the table (medians over the rounds) and save it."""

    def med(name: str, c: int, key: str) -> float:
        return statistics.median(cell[key] for cell in cells[(name, c)])

    lines = [
        "# News predictions through the gateway, next to digits",
        "",
        f"One inference process serving both trained models, one gateway (traffic logged to "
        f"Redis), load from separate processes; {args.rounds} interleaved rounds of "
        f"{args.duration:.0f} s per cell, medians shown. News body: one BBC test article of "
        f"median length ({chars} characters). {platform.machine()}, {os.cpu_count()} CPUs shared "
        f"with other work (load average {os.getloadavg()[0]:.1f}).",
        "",
        "| model | c=1 req/s | c=1 p50 ms | c=32 req/s | c=32 p50 ms | c=32 p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for name in (MODEL_NAME, NEWS_MODEL_NAME):
        lines.append(
            f"| {name} | {med(name, 1, 'rps'):.0f} | {med(name, 1, 'p50'):.2f} "
            f"| {med(name, 32, 'rps'):.0f} | {med(name, 32, 'p50'):.1f} "
            f"| {med(name, 32, 'p99'):.1f} |"
        )
    ratio = med(NEWS_MODEL_NAME, 32, "rps") / med(MODEL_NAME, 32, "rps")
    lines += ["", f"news / digits throughput at c=32: {ratio:.2f}"]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
