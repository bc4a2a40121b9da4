"""What the browser tests share: headless Debian Chromium under Playwright, the frontend served
by ``python -m mlops_frontend`` on a free loopback port, and waiting for Streamlit to settle.

Chromium is ``/usr/bin/chromium`` (``apt-get install -y chromium``; ``CHROMIUM_PATH`` overrides
it); a test is skipped when it is missing. Screenshots go to ``test-artifacts/frontend/`` (or
``$TEST_ARTIFACTS_DIR/frontend/``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mlops_common.testing.servers import free_port, stop_process_group

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO_ROOT = Path(__file__).resolve().parents[5]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO_ROOT / "test-artifacts")) / "frontend"
SETTLE_MS = 30_000


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Headless Chromium (a Playwright ``Browser``); skips the test when it is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve_frontend(gateway_url: str, log_path: Path, **env: str) -> Iterator[str]:
    """``python -m mlops_frontend`` on a free loopback port talking to ``gateway_url`` (more
    ``FRONTEND_*`` settings in ``env``); yields its URL once healthy, stops it after."""
    port = free_port()
    environment = {
        **os.environ,
        "FRONTEND_HOST": "127.0.0.1",
        "FRONTEND_PORT": str(port),
        "FRONTEND_GATEWAY_URL": gateway_url,
        **env,
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlops_frontend"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc)
            yield url
        finally:
            stop_process_group(proc)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the frontend exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the frontend at {url} was not healthy after {timeout:.0f}s")


def settle(page: Any, text: str) -> None:
    """Wait until ``text`` is shown and Streamlit has finished running the script."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=SETTLE_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=SETTLE_MS
    )


def pick(page: Any, model: str) -> None:
    """Choose ``model`` in the sidebar's picker."""
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name=model).first.click()


def screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot saved as ``ARTIFACTS/name``; its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
