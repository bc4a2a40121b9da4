"""Relay MLflow registry webhooks to GitHub as ``repository_dispatch`` events.

MLflow (3.3+) calls a webhook when a model version gets an alias; GitHub starts a workflow on
``repository_dispatch``. This small server sits between them (run it on Cloud Run, or as a pod
beside MLflow)::

    RELAY_WEBHOOK_SECRET=... RELAY_GITHUB_REPO=owner/repo RELAY_GITHUB_TOKEN=... \\
        python scripts/ci/registry_relay.py --port 8080

It checks the webhook's HMAC signature (``X-MLflow-Signature: v1,<base64>`` over
``<delivery id>.<timestamp>.<body>``) and its age, and for ``model_version_alias.created`` with
the watched alias (``staging`` by default) sends ``{"event_type": "model-staged",
"client_payload": {"name", "version", "alias"}}`` to ``POST /repos/<repo>/dispatches``.
Any other event is acknowledged and ignored. Standard library only. See docs/ci.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENT_TYPE = "model-staged"
MAX_BODY_BYTES = 64 * 1024


class RelayError(Exception):
    """A webhook that is refused, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RelayConfig:
    """What the relay needs: the shared secret, the target repository and its token."""

    secret: str
    github_repo: str
    github_token: str
    github_api: str = "https://api.github.com"
    alias: str = "staging"
    max_age_s: float = 300.0

    @classmethod
    def from_env(cls, environ: dict[str, str]) -> RelayConfig:
        """Read ``RELAY_*`` variables; refuse to start without secret, repository or token."""
        missing = [
            name
            for name in ("RELAY_WEBHOOK_SECRET", "RELAY_GITHUB_REPO", "RELAY_GITHUB_TOKEN")
            if not environ.get(name)
        ]
        if missing:
            raise ValueError(f"set {', '.join(missing)}")
        return cls(
            secret=environ["RELAY_WEBHOOK_SECRET"],
            github_repo=environ["RELAY_GITHUB_REPO"],
            github_token=environ["RELAY_GITHUB_TOKEN"],
            github_api=environ.get("RELAY_GITHUB_API", cls.github_api).rstrip("/"),
            alias=environ.get("RELAY_ALIAS", cls.alias),
        )


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """MLflow's webhook signature of a delivery."""
    content = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(config: RelayConfig, headers: Any, body: bytes, now: float | None = None) -> None:
    """Raise RelayError unless the delivery is signed with the secret and recent."""
    delivery = headers.get("X-MLflow-Delivery-Id", "")
    timestamp = headers.get("X-MLflow-Timestamp", "")
    signature = headers.get("X-MLflow-Signature", "")
    if not (delivery and timestamp and signature):
        raise RelayError(HTTPStatus.UNAUTHORIZED, "missing MLflow signature headers")
    expected = sign(config.secret, delivery, timestamp, body)
    if not hmac.compare_digest(expected, signature):
        raise RelayError(HTTPStatus.UNAUTHORIZED, "bad signature")
    try:
        age = (time.time() if now is None else now) - float(timestamp)
    except ValueError as exc:
        raise RelayError(HTTPStatus.BAD_REQUEST, "timestamp is not a number") from exc
    if abs(age) > config.max_age_s:
        raise RelayError(HTTPStatus.UNAUTHORIZED, f"delivery is {age:.0f}s old (replay?)")


def dispatch_for(config: RelayConfig, event: dict[str, Any]) -> dict[str, Any] | None:
    """The repository_dispatch body for an event, or None when the event is not watched."""
    data = event.get("data") or {}
    if (event.get("entity"), event.get("action")) != ("model_version_alias", "created"):
        return None
    if data.get("alias") != config.alias:
        return None
    if not data.get("name") or not data.get("version"):
        raise RelayError(HTTPStatus.BAD_REQUEST, "alias event without name or version")
    payload = {k: str(data[k]) for k in ("name", "version", "alias")}
    return {"event_type": EVENT_TYPE, "client_payload": payload}


def send_dispatch(config: RelayConfig, body: dict[str, Any], timeout: float = 10.0) -> None:
    """POST the dispatch to GitHub; raise RelayError(502) when GitHub refuses it."""
    request = urllib.request.Request(
        f"{config.github_api}/repos/{config.github_repo}/dispatches",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {config.github_token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310: an https API base URL from the operator's env (RELAY_GITHUB_API)
            if response.status != HTTPStatus.NO_CONTENT:
                raise RelayError(HTTPStatus.BAD_GATEWAY, f"GitHub answered {response.status}")
    except urllib.error.HTTPError as exc:
        raise RelayError(HTTPStatus.BAD_GATEWAY, f"GitHub answered {exc.code}") from exc
    except urllib.error.URLError as exc:
        raise RelayError(HTTPStatus.BAD_GATEWAY, f"GitHub unreachable: {exc.reason}") from exc


def make_handler(config: RelayConfig) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to ``config``."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._answer(HTTPStatus.OK, {"status": "ok"})
            else:
                self._answer(HTTPStatus.NOT_FOUND, {"error": "not found"})

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length", "0"))
                if self.path != "/webhook":
                    raise RelayError(HTTPStatus.NOT_FOUND, "not found")
                if not 0 < length <= MAX_BODY_BYTES:
                    raise RelayError(HTTPStatus.BAD_REQUEST, "body missing or too large")
                body = self.rfile.read(length)
                verify(config, self.headers, body)
                try:
                    event = json.loads(body)
                except json.JSONDecodeError as exc:
                    raise RelayError(HTTPStatus.BAD_REQUEST, "body is not JSON") from exc
                dispatch = dispatch_for(config, event)
                if dispatch is None:
                    self._answer(HTTPStatus.OK, {"dispatched": False})
                    return
                send_dispatch(config, dispatch)
                self._answer(HTTPStatus.ACCEPTED, {"dispatched": True, **dispatch})
            except RelayError as exc:
                self._answer(exc.status, {"error": str(exc)})

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"registry-relay: {format % args}\n")

    return Handler


def make_server(config: RelayConfig, host: str, port: int) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (port 0: any free one), not yet serving."""
    return ThreadingHTTPServer((host, port), make_handler(config))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: serve until interrupted."""
    parser = argparse.ArgumentParser(description="MLflow webhook → GitHub repository_dispatch")
    parser.add_argument("--host", default="0.0.0.0")  # nosec B104: runs in a container (Cloud Run) that must listen on all interfaces
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args(argv)
    try:
        config = RelayConfig.from_env(dict(os.environ))
    except ValueError as exc:
        print(f"registry-relay: {exc}", file=sys.stderr)
        return 2
    server = make_server(config, args.host, args.port)
    print(f"registry-relay: listening on {args.host}:{server.server_port}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
