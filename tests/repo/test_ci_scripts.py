"""The scripts the workflows run: data report, smoke test, registry relay, import check."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import data_report
import import_all
import numpy as np
import pandas as pd
import pytest
import registry_relay
import smoke_test
from PIL import Image

from mlops_common.features import FEATURE_NAMES


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x.astype(np.float32), y.astype(np.int64)


# --- data report -------------------------------------------------------------------------------


def test_same_distribution_does_not_drift(tmp_path: Path) -> None:
    x, y = _digits()
    order = np.random.default_rng(0).permutation(len(x))
    a, b = order[: len(x) // 2], order[len(x) // 2 :]
    np.savez(tmp_path / "old.npz", x_train=x[a], y_train=y[a])
    np.savez(tmp_path / "new.npz", x_train=x[b], y_train=y[b])
    old = data_report.load_dataset(tmp_path / "old.npz")
    result = data_report.compare(old, data_report.load_dataset(tmp_path / "new.npz"))
    assert not result.drift, result


def test_inverted_images_and_class_shift_drift(tmp_path: Path) -> None:
    x, y = _digits()
    previous = data_report.Dataset(x, y, {"all": len(x)})
    inverted = data_report.Dataset(16.0 - x, y, {"all": len(x)})
    assert data_report.compare(previous, inverted).drift
    keep = y < 5
    only_low = data_report.Dataset(x[keep], y[keep], {"all": int(keep.sum())})
    result = data_report.compare(previous, only_low)
    assert result.label_p_value is not None
    assert result.label_p_value < 0.05
    assert any("class balance" in reason for reason in result.reasons)


def test_report_cli_reads_a_prepared_split_and_a_csv(tmp_path: Path) -> None:
    x, y = _digits()
    np.savez(tmp_path / "new.npz", x_train=x[:900], y_train=y[:900], x_test=x[900:], y_test=y[900:])
    frame = pd.DataFrame(x[:600], columns=list(FEATURE_NAMES)).assign(label=y[:600])
    frame.to_csv(tmp_path / "old.csv", index=False)
    out, js = tmp_path / "report.md", tmp_path / "report.json"
    code = data_report.main(
        [
            "--current",
            str(tmp_path / "new.npz"),
            "--previous",
            str(tmp_path / "old.csv"),
            "--out",
            str(out),
            "--json",
            str(js),
        ]
    )
    assert code == 0
    text = out.read_text()
    assert text.startswith(data_report.MARKER)
    assert "| rows | `1797` | `600` |" in text
    numbers = json.loads(js.read_text())
    assert numbers["current"]["parts"] == {"test": 897, "train": 900}
    assert numbers["drift"]["drift"] is False


def test_image_folder_and_bad_inputs(tmp_path: Path) -> None:
    for label in ("3", "7"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        buffer = io.BytesIO()
        Image.new("L", (16, 16), color=int(label) * 30).save(buffer, format="PNG")
        (tmp_path / "imgs" / label / "a.png").write_bytes(buffer.getvalue())
    dataset = data_report.load_dataset(tmp_path / "imgs")
    assert dataset.features.shape == (2, 64)
    assert dataset.labels is not None
    assert sorted(dataset.labels.tolist()) == [3, 7]
    (tmp_path / "imgs" / "7" / "b.png").write_bytes(b"not an image")
    with pytest.raises(data_report.DataReportError, match=r"b\.png"):
        data_report.load_dataset(tmp_path / "imgs")
    np.savez(tmp_path / "nan.npz", x=np.full((2, 64), np.nan, dtype=np.float32))
    with pytest.raises(data_report.DataReportError, match=r"nan\.npz"):
        data_report.load_dataset(tmp_path / "nan.npz")
    assert data_report.main(["--current", str(tmp_path / "missing.npz")]) == 1


# --- smoke test --------------------------------------------------------------------------------


class _Gateway(BaseHTTPRequestHandler):
    """A loopback HTTP server answering like the gateway (or broken, when told to)."""

    mode = "ok"

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json(200 if self.mode != "unready" or self.path == "/healthz" else 503, {})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert len(body["instances"][0]) == 64
        probabilities = [0.0] * 10
        probabilities[1] = 1.0 if self.mode == "ok" else 0.5
        prediction = {"id": "p1", "label": 1, "confidence": 1.0, "probabilities": probabilities}
        self._json(
            200,
            {
                "request_id": "r1",
                "model": {"name": "m", "version": "3"},
                "predictions": [prediction],
            },
        )

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[_Gateway]]]:
    handler = type("Handler", (_Gateway,), {"mode": "ok"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()


def test_smoke_test_passes_and_fails_for_the_right_reasons(gateway: Any) -> None:
    url, handler = gateway
    assert "model m v3 → label 1" in smoke_test.run(url, wait_s=5, predict=True)
    handler.mode = "bad-probabilities"
    with pytest.raises(smoke_test.SmokeError, match="summing to 1"):
        smoke_test.run(url, wait_s=5, predict=True)
    handler.mode = "unready"
    with pytest.raises(smoke_test.SmokeError, match="/readyz not ready"):
        smoke_test.run(url, wait_s=0.5, predict=False)
    assert smoke_test.main(["--url", "ftp://x"]) == 1


# --- registry relay ----------------------------------------------------------------------------


class _GitHub(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_relay_forwards_signed_staging_alias_events_only() -> None:
    from mlflow.webhooks.delivery import _generate_hmac_signature

    github_handler = type("GH", (_GitHub,), {"received": []})
    github = ThreadingHTTPServer(("127.0.0.1", 0), github_handler)
    _serve(github)
    config = registry_relay.RelayConfig(
        secret="s3cret",
        github_repo="acme/mlops",
        github_token="tok",
        github_api=f"http://127.0.0.1:{github.server_port}",
    )
    relay = registry_relay.make_server(config, "127.0.0.1", 0)
    _serve(relay)
    url = f"http://127.0.0.1:{relay.server_port}/webhook"

    def deliver(event: dict[str, Any], secret: str = "s3cret", age: float = 0) -> tuple[int, Any]:
        payload = json.dumps(event)
        stamp = str(int(time.time() - age))
        headers = {
            "Content-Type": "application/json",
            "X-MLflow-Delivery-Id": "d-1",
            "X-MLflow-Timestamp": stamp,
            # MLflow's own signing function: the relay must accept exactly what MLflow sends.
            "X-MLflow-Signature": _generate_hmac_signature(secret, "d-1", stamp, payload),
        }
        return _post(url, payload.encode(), headers)

    staged = {
        "entity": "model_version_alias",
        "action": "created",
        "data": {"name": "digits-classifier", "alias": "staging", "version": "7"},
    }
    try:
        status, body = deliver(staged)
        assert status == 202
        assert body["dispatched"] is True
        path, headers, sent = github_handler.received[0]
        assert path == "/repos/acme/mlops/dispatches"
        assert headers["Authorization"] == "Bearer tok"
        assert sent == {
            "event_type": "model-staged",
            "client_payload": {"name": "digits-classifier", "version": "7", "alias": "staging"},
        }

        production = {**staged, "data": {**staged["data"], "alias": "production"}}
        assert deliver(production) == (200, {"dispatched": False})
        assert deliver(staged, secret="wrong")[0] == 401
        assert deliver(staged, age=3600)[0] == 401
        assert _post(url, b"{}", {"Content-Type": "application/json"})[0] == 401
        assert len(github_handler.received) == 1
    finally:
        for server in (relay, github):
            server.shutdown()
            server.server_close()


def test_relay_refuses_to_start_without_its_secrets() -> None:
    with pytest.raises(ValueError, match="RELAY_WEBHOOK_SECRET"):
        registry_relay.RelayConfig.from_env({"RELAY_GITHUB_REPO": "a/b", "RELAY_GITHUB_TOKEN": "t"})


# --- import check ------------------------------------------------------------------------------


def test_import_all_imports_every_module_and_reports_failures() -> None:
    imported, failures = import_all.import_all("mlops_common")
    assert "mlops_common.features" in imported
    assert not failures
    assert import_all.import_all("no_such_package_here")[1]
    assert import_all.main(["mlops_common", "--forbid", "json"]) == 1  # json is loaded: forbidden
