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
from collections.abc import Iterator
from typing import Any

import pytest

from .contract.chromium import (
    REPO_ROOT,
    SETTLE_MS,
    launch_chromium,
    screenshot,
    serve_frontend,
    settle,
)

pytestmark = pytest.mark.slow

DOCS_SCREENSHOT = REPO_ROOT / "docs/assets/frontend-predict.png"


@pytest.fixture(scope="module")
def frontend_url(platform: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m mlops_frontend`` on a free loopback port, talking to the real gateway."""
    log = tmp_path_factory.mktemp("frontend") / "streamlit.log"
    with serve_frontend(
        platform.gateway_url, log, FRONTEND_ADMIN_API_KEY=platform.admin_key
    ) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright."""
    with launch_chromium() as instance:
        yield instance


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab of a desktop-sized window."""
    context = browser.new_context(viewport={"width": 1280, "height": 1500})
    tab = context.new_page()
    yield tab
    context.close()


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


def test_every_page_renders_in_chromium(page: Any, frontend_url: str, platform: Any) -> None:
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
    shot = screenshot(page, "frontend-predict.png")
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
        # the page acts with its configured admin key, and never puts it in the page
        assert platform.admin_key not in page.content()
