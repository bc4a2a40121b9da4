"""The app served on loopback by ``python -m mlops_frontend`` and read by headless Chromium.

Debian's ``chromium`` (``apt-get install -y chromium``) is driven by Playwright. The test draws
a digit on the canvas of the Predict page, predicts it through the real gateway, asserts the
rendered text of every page, and saves a screenshot of the Predict page as a test artifact
(``test-artifacts/frontend/``, or ``$TEST_ARTIFACTS_DIR/frontend/``). The docs' copy,
``docs/assets/frontend-predict.png``, is written when missing or with ``UPDATE_DOCS_SCREENSHOTS=1``
(so a test run leaves the tree clean).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_common.testing.servers import free_port, stop_process_group

pytestmark = pytest.mark.slow

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
REPO_ROOT = Path(__file__).resolve().parents[4]
DOCS_SCREENSHOT = REPO_ROOT / "docs/assets/frontend-predict.png"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO_ROOT / "test-artifacts")) / "frontend"
SETTLE_MS = 30_000


@pytest.fixture(scope="module")
def frontend_url(platform: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m mlops_frontend`` on a free loopback port, talking to the real gateway."""
    port = free_port()
    env = {
        **os.environ,
        "FRONTEND_HOST": "127.0.0.1",
        "FRONTEND_PORT": str(port),
        "FRONTEND_GATEWAY_URL": platform.gateway_url,
        "FRONTEND_ADMIN_API_KEY": platform.admin_key,
    }
    log = (tmp_path_factory.mktemp("frontend") / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlops_frontend"],
        env=env,
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
        log.close()


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab of a desktop-sized window."""
    context = browser.new_context(viewport={"width": 1280, "height": 1500})
    tab = context.new_page()
    yield tab
    context.close()


def settle(page: Any, text: str) -> None:
    """Wait until ``text`` is shown and Streamlit has finished running the script."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=SETTLE_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=SETTLE_MS
    )


def draw_seven(page: Any) -> None:
    """Draw a 7 on the canvas with the mouse, once Fabric.js has set the canvas up."""
    canvas = page.locator("canvas.upper-canvas")  # Fabric's input layer (in a shadow root)
    canvas.wait_for(timeout=SETTLE_MS)
    page.wait_for_timeout(500)
    box = canvas.bounding_box()
    assert box, "the drawing canvas is on the page"
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.22 * w, y + 0.2 * h)
    page.mouse.down()
    for fx, fy in ((0.78, 0.2), (0.62, 0.5), (0.45, 0.85)):
        page.mouse.move(x + fx * w, y + fy * h, steps=12)
    page.mouse.up()


def test_every_page_renders_in_chromium(page: Any, frontend_url: str) -> None:
    page.goto(frontend_url)  # Predict is the default page, served at /
    settle(page, "Predict a digit")
    assert "MLOps platform" in page.title()
    draw_seven(page)
    settle(page, "What the model sees")
    page.get_by_role("button", name="Predict").click()
    # Streamlit draws a rerun's elements one by one: wait for each, not only the last.
    for expected in ("Predicted digit", "Confidence", "Model version", "Was it right?"):
        settle(page, expected)  # fails with a timeout when the text never shows
    page.wait_for_selector(  # the probability chart is drawn (Vega: a canvas or an SVG)
        "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg",
        timeout=SETTLE_MS,
    )
    body = page.inner_text("body")
    assert "unreachable" not in body
    assert "Predicted digit\n\n7" in body, "the drawn 7 is read as a 7"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "frontend-predict.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1" or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOT)

    for path, title, expected in (
        ("model", "Serving now", ("Registered versions", "Promote or roll back", "v2")),
        ("drift", "Drift", ("Run a drift check", "Is live traffic still like")),
        ("retraining", "Retraining", ("Start retraining", "Hydra overrides")),
    ):
        page.goto(f"{frontend_url}/{path}")
        for text in (title, *expected):
            settle(page, text)  # fails with a timeout when the text never shows
        body = page.inner_text("body")
        assert "Traceback" not in body
