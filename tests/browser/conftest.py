"""The browser test's machinery: Debian's Chromium driven by Playwright, the test page bundled
with the AI SDK and served from an origin of its own, and a screenshot when a test fails."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.terminal.conftest import short_tmp  # noqa: F401 (shared fixture)

CHROMIUM = Path("/usr/bin/chromium")
PAGE = Path(__file__).with_name("page")
AI_SDK = Path(__file__).parent.parent / "ai_sdk"
# No sandbox (the tests run as root), and nothing the browser would fetch on its own.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Each phase's report on the test item, for the screenshot taken when the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page_folder(tmp_path) -> Path:
    """The page and its script, the AI SDK bundled in, in a folder to serve."""
    esbuild = AI_SDK / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        pytest.fail("esbuild is not installed: run `npm ci --prefix tests/ai_sdk`")
    folder = tmp_path / "page"
    folder.mkdir()
    shutil.copy(PAGE / "index.html", folder)
    bundled = subprocess.run(
        [
            str(esbuild),
            str(PAGE / "app.js"),
            "--bundle",
            "--format=esm",
            "--platform=browser",
            "--log-level=warning",
            f"--outfile={folder / 'app.js'}",
        ],
        # The page's `import "ai"` resolves in the AI SDK's own node_modules.
        env={**os.environ, "NODE_PATH": str(AI_SDK / "node_modules")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bundled.returncode == 0, bundled.stderr
    return folder


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def page_origin(page_folder) -> Iterator[str]:
    """The page served on another port of 127.0.0.1: another origin than the server's."""
    handler = functools.partial(QuietHandler, directory=str(page_folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def browser_page(request, tmp_path) -> Iterator[Page]:
    """A fresh Chromium page; when the test fails, its screenshot and console are kept."""
    console: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"page error: {error}"))
            yield page
            report = getattr(request.node, "report_call", None)
            if report is not None and report.failed:
                folder = tmp_path / "screenshots"
                folder.mkdir(exist_ok=True)
                screenshot = folder / f"{request.node.name}.png"
                page.screenshot(path=str(screenshot), full_page=True)
                print(f"screenshot of the failed page: {screenshot}")
                print("the page's console:", *console, sep="\n  ")
        finally:
            browser.close()
