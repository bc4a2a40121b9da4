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
from collections.abc import Iterator
from typing import Any

import pytest

from .chromium import (
    REPO_ROOT,
    SETTLE_MS,
    launch_chromium,
    pick,
    screenshot,
    serve_frontend,
    settle,
)

pytestmark = pytest.mark.slow

DOCS_SCREENSHOT = REPO_ROOT / "docs/assets/frontend-features.png"
Contract = Any  # conftest.ContractGateway


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright."""
    with launch_chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def frontend_url(
    contract_server: Contract, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``python -m mlops_frontend`` on a free loopback port, talking to the contract server."""
    log = tmp_path_factory.mktemp("frontend") / "streamlit.log"
    with serve_frontend(contract_server.url, log) as url:
        yield url


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
        shot = screenshot(page, "frontend-features.png")
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
        screenshot(page, "frontend-drift-no-check.png")
    except Exception:
        screenshot(page, "frontend-features-failed.png")
        raise
    finally:
        context.close()
