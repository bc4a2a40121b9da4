"""The app served by ``python -m mlops_frontend`` against the contract server, read by headless
Chromium (Debian's ``chromium`` under Playwright): pick a features model in the sidebar,
predict its default row, see the class names and the drawn chart; the Model page's full
registration time; the Drift page's "No check yet" as information. Screenshots go to
``test-artifacts/frontend/`` (or ``$TEST_ARTIFACTS_DIR/frontend/``); the docs' copy of the
features page, ``docs/assets/frontend-features.png``, is written when missing or with
``UPDATE_DOCS_SCREENSHOTS=1``."""

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
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
REPO_ROOT = Path(__file__).resolve().parents[5]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO_ROOT / "test-artifacts")) / "frontend"
DOCS_SCREENSHOT = REPO_ROOT / "docs/assets/frontend-features.png"
SETTLE_MS = 30_000
Contract = Any  # conftest.ContractGateway


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


@pytest.fixture(scope="module")
def frontend_url(
    contract_server: Contract, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``python -m mlops_frontend`` on a free loopback port, talking to the contract server."""
    port = free_port()
    env = {
        **os.environ,
        "FRONTEND_HOST": "127.0.0.1",
        "FRONTEND_PORT": str(port),
        "FRONTEND_GATEWAY_URL": contract_server.url,
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
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the frontend exited with {proc.returncode}"
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the frontend never became healthy"
                time.sleep(0.2)
        yield url
    finally:
        stop_process_group(proc)
        log.close()


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


def test_a_features_model_is_picked_and_predicted_in_chromium(
    browser: Any, frontend_url: str, contract_server: Contract
) -> None:
    contract_server.reset()
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    try:
        page.goto(frontend_url)
        settle(page, "Predict a digit")
        pick(page, "iris-classifier")
        settle(page, "4 numbers in 0…10 per instance")
        page.get_by_role("button", name="Predict").click()
        for expected in ("Predicted class", "setosa", "Was it right?"):
            settle(page, expected)
        # the probability chart is drawn (Vega renders into a canvas or an SVG)
        page.wait_for_selector(
            "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg",
            timeout=SETTLE_MS,
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "frontend-features.png"
        page.screenshot(path=str(shot), full_page=True)
        if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1" or not DOCS_SCREENSHOT.exists():
            shutil.copyfile(shot, DOCS_SCREENSHOT)

        # the pick holds on the other pages of the session
        page.get_by_role("link", name="Model").click()
        for expected in ("Registered 2026-12-05", "Promote or roll back"):
            settle(page, expected)  # Streamlit draws a rerun's elements one by one
        body = page.inner_text("body")
        assert "Model iris-classifier" in body
        assert "Registered 2026-12-05 10:20:30 UTC" in body  # whole, not cut
        assert "Retraining is off" in body

        pick(page, "digits-classifier")
        page.get_by_role("link", name="Drift").click()
        settle(page, "No check yet")
        info = page.locator("[data-testid='stAlertContentInfo']").first.inner_text()
        assert "No check yet" in info
        assert not page.locator("[data-testid='stAlertContentError']").count()
        page.screenshot(path=str(ARTIFACTS / "frontend-drift-no-check.png"), full_page=True)
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "frontend-features-failed.png"), full_page=True)
        raise
    finally:
        context.close()
