"""Smoke-test a deployed gateway: ``python scripts/ci/smoke_test.py --url https://gw.example``.

Waits (up to ``--wait`` seconds) until ``/healthz`` and ``/readyz`` answer 200, then sends one
``POST /v1/predict`` and checks the answer against the contract (ARCHITECTURE.md): a request id,
the serving model's name and version, one prediction with an id, a label in 0..9, a confidence
and ten probabilities summing to 1. Standard library only, so it runs on a bare runner. Exit 0
when every check passes, 1 with the reason otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.request
from typing import Any

#: A rough "1" on the 8×8 grid of the digits dataset (values 0..16).
SAMPLE = [0.0] * 64
for _row in range(1, 7):
    SAMPLE[_row * 8 + 4] = 16.0


class SmokeError(RuntimeError):
    """A check failed; the message says which and why."""


def _request(url: str, body: dict[str, Any] | None, timeout: float) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310: the operator's --url (the gateway's http(s) base URL)
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return status, raw.decode(errors="replace")


def wait_ready(base: str, wait_s: float, timeout: float = 5.0) -> None:
    """Poll ``/healthz`` then ``/readyz`` until both answer 200, or raise after ``wait_s``."""
    deadline = time.monotonic() + wait_s
    for path in ("/healthz", "/readyz"):
        last = "no answer"
        while True:
            try:
                status, body = _request(base + path, None, timeout)
                if status == 200:
                    break
                last = f"HTTP {status}: {body}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            if time.monotonic() >= deadline:
                raise SmokeError(f"{path} not ready after {wait_s:.0f}s ({last})")
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))


def check_prediction(answer: Any) -> str:
    """Validate a ``/v1/predict`` answer; return a one-line description of it."""
    if not isinstance(answer, dict):
        raise SmokeError(f"predict answered {answer!r}, not a JSON object")
    for key in ("request_id", "model", "predictions"):
        if key not in answer:
            raise SmokeError(f"predict answer lacks {key!r}: {answer}")
    model, predictions = answer["model"], answer["predictions"]
    if not model.get("name") or model.get("version") in (None, ""):
        raise SmokeError(f"predict answer has no model name/version: {model}")
    if not isinstance(predictions, list) or len(predictions) != 1:
        raise SmokeError(f"expected one prediction, got {predictions!r}")
    prediction = predictions[0]
    probabilities = prediction.get("probabilities", [])
    if not prediction.get("id") or prediction.get("label") not in range(10):
        raise SmokeError(f"prediction lacks an id or a label in 0..9: {prediction}")
    if len(probabilities) != 10 or not math.isclose(sum(probabilities), 1.0, abs_tol=1e-3):
        raise SmokeError(f"probabilities are not 10 values summing to 1: {probabilities}")
    return (
        f"model {model['name']} v{model['version']} → label {prediction['label']} "
        f"({prediction.get('confidence', 0):.3f})"
    )


def run(base: str, wait_s: float, predict: bool) -> str:
    """Every check against the gateway at ``base``; returns a summary line."""
    base = base.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise SmokeError(f"--url must be an http(s) URL, got {base!r}")
    wait_ready(base, wait_s)
    if not predict:
        return f"{base}: healthy and ready"
    status, answer = _request(base + "/v1/predict", {"instances": [SAMPLE]}, timeout=10.0)
    if status != 200:
        raise SmokeError(f"POST /v1/predict answered HTTP {status}: {answer}")
    return f"{base}: ready; {check_prediction(answer)}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Smoke-test a deployed gateway.")
    parser.add_argument("--url", required=True, help="the gateway's base URL")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for ready")
    parser.add_argument("--no-predict", action="store_true", help="only check health")
    args = parser.parse_args(argv)
    try:
        print(run(args.url, args.wait, predict=not args.no_predict))
    except SmokeError as exc:
        print(f"smoke test failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
