"""Fixtures of the browser tests: the playground, and Debian's Chromium driving its page.

The playground runs once per module (the demo model, the real bot as a child process, the
real Codex app-server, the suite's Redis); each test gets a fresh page and works in a thread
of its own. Chromium is the system's (``/usr/bin/chromium``, or ``$PLAYGROUND_CHROMIUM``),
driven by Playwright for Python: no browser is ever downloaded. Where it is missing, the tests
are skipped, saying why, only where it cannot be installed: without root, or where
``scripts/bootstrap`` tried and recorded why not (``.tools/no-browser``); as root they fail
until ``scripts/bootstrap`` has installed Debian's package. Every test leaves a screenshot of
its page's last view in ``.artifacts/browser/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from playground.runner import Playground, PlaygroundOptions
from tests.browser.slack_page import SlackPage
from tests.conftest import PROJECT_ROOT

if TYPE_CHECKING:
    from playwright.async_api import Browser

ARTIFACTS: Final = PROJECT_ROOT / ".artifacts" / "browser"
NO_BROWSER: Final = PROJECT_ROOT / ".tools" / "no-browser"
"""Written by scripts/bootstrap when it could not install Chromium: why."""
CHROMIUM_PATHS: Final = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def _chromium() -> str | None:
    configured = os.environ.get("PLAYGROUND_CHROMIUM")
    if configured:
        return configured
    return next((path for path in CHROMIUM_PATHS if Path(path).is_file()), None) or (
        shutil.which("chromium")
    )


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium's path (see the module docstring for when it is missing)."""
    path = _chromium()
    if path is not None:
        return path
    if NO_BROWSER.is_file():
        pytest.skip(f"no Chromium for the browser tests: {NO_BROWSER.read_text().strip()}")
    if os.geteuid() == 0:
        pytest.fail("Chromium is missing: run scripts/bootstrap (it installs Debian's chromium)")
    pytest.skip(
        "no Chromium on this machine and not root to install it: the browser tests need "
        "Debian's chromium (`apt-get install chromium`, as scripts/bootstrap does as root)"
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def playground(
    redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Playground]:
    """The whole playground with the demo model, streaming fast (the tests wait on what the
    page shows, never on time)."""
    client = aioredis.from_url(redis_server_url)
    await client.flushdb()
    await client.aclose()
    options = PlaygroundOptions(
        port=0,
        model="demo",
        redis_url=redis_server_url,
        state_dir=tmp_path_factory.mktemp("playground"),
        demo_pace=0.01,
    )
    async with Playground(options) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """Headless Chromium (the system's), for the module."""
    from playwright.async_api import async_playwright

    # Chromium refuses to run as root with its sandbox on (CI runs as root).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=chromium, args=args)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def slack(
    browser: Browser, playground: Playground, request: pytest.FixtureRequest
) -> AsyncIterator[SlackPage]:
    """A fresh page on the playground, as Ada; its last view is saved as an artifact."""
    context = await browser.new_context(viewport={"width": 1400, "height": 860})
    page = await context.new_page()
    errors: list[Any] = []

    def page_error(error: Any) -> None:
        errors.append(error)

    page.on("pageerror", page_error)
    await page.goto(playground.url)
    await page.locator("#connection.connected").wait_for()
    yield SlackPage(page, playground)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"{request.node.name}.png")
    await context.close()
    if playground.demo is not None:
        playground.demo.resume()  # a test that failed while the model was paused
    assert not errors, f"the page threw: {errors}"
