"""Container health probe used by every image's HEALTHCHECK (stdlib only, plus grpc for gRPC).

Usage:
    healthcheck.py http URL            healthy when URL answers 2xx within the timeout
    healthcheck.py grpc HOST:PORT      healthy when grpc.health.v1 answers SERVING
Exit status 0 = healthy, 1 = unhealthy (what Docker's HEALTHCHECK expects).
"""

from __future__ import annotations

import sys
import urllib.request

TIMEOUT_S = 3.0


def check_http(url: str) -> bool:
    """True when `url` answers with a 2xx status."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return 200 <= int(response.status) < 300


def check_grpc(target: str, service: str = "") -> bool:
    """True when the gRPC health service at `target` reports SERVING for `service`."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_S)
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: list[str]) -> int:
    """Run the probe named by argv and return the exit status."""
    if len(argv) < 2 or argv[0] not in {"http", "grpc"}:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        healthy = check_http(argv[1]) if argv[0] == "http" else check_grpc(*argv[1:3])
    except Exception as exc:  # any failure to answer is "unhealthy"
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
