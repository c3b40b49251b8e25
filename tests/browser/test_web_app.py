"""The web app's calls made by a real browser (Chromium) from a page on another origin, against
a real server in anonymous mode: a preflighted JSON POST, the project's event stream, the chat
stream read by the AI SDK in the page, the terminal's WebSocket and a service's live preview in
an iframe. With a worker, the local sandbox provider and the local LLM server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CHROMIUM
from tests.llmserver import LLMServer, Reply, llm_server
from tests.servers import Server, free_port, running_server, stop_process
from tests.terminal.conftest import SANDBOX_REMOVE

if not CHROMIUM.exists():
    pytest.skip(
        f"Chromium is not installed ({CHROMIUM}): `apt-get install chromium`",
        allow_module_level=True,
    )

WAIT_MS = 60_000
# A service of the working copy: its files over HTTP, previewed in the page's iframe.
WEB_SERVICE = """#!/bin/sh
#---
# name: Web
# http: {port}
#---
exec python3 -u -m http.server "$PORT" --bind 127.0.0.1
"""


@dataclass
class BrowserSite:
    server: Server
    llm: LLMServer
    page_url: str
    working_copy: Path


@pytest.fixture
def site(short_tmp, page_origin) -> Iterator[BrowserSite]:
    copy = short_tmp / "copy"
    copy.mkdir()
    (copy / "README.md").write_text("# Demo, served by a service\n")
    services = copy / ".discobot" / "services"
    services.mkdir(parents=True)
    (services / "web").write_text(WEB_SERVICE.format(port=free_port()))
    (services / "web").chmod(0o755)
    git = ["git", "-C", str(copy), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    with (
        llm_server() as llm,
        running_server(
            short_tmp,
            SANDBOX_PROVIDER="local",
            LOCAL_PROVIDER_ENABLED="true",
            DEFAULT_LLM_BASE_URL=f"{llm.base_url}/v1",
            DEFAULT_LLM_MODEL="test-model",
            CHAT_RUNNER_POLL_SECONDS="0.2",
            # The page's origin is the web app's, as a dev server's would be.
            CORS_ORIGINS=page_origin,
        ) as server,
    ):
        worker = server.start_worker(log=server.log)
        try:
            yield BrowserSite(
                server=server,
                llm=llm,
                page_url=f"{page_origin}/index.html?api={server.base_url}",
                working_copy=copy,
            )
        finally:
            stop_process(worker)
            server.manage("shell", "-c", SANDBOX_REMOVE)


def test_a_page_on_another_origin_adds_a_workspace_chats_uses_the_terminal_and_previews(
    site, browser_page: Page
):
    page = browser_page
    page.goto(site.page_url)
    expect(page.locator("#events-state")).to_have_text("connected", timeout=WAIT_MS)

    page.fill("#workspace-path", str(site.working_copy))
    page.click("#add-workspace")

    expect(page.locator("#workspace-id")).not_to_be_empty(timeout=WAIT_MS)
    workspace_id = page.locator("#workspace-id").inner_text()
    ready = page.locator("#workspace-events li", has_text=f"{workspace_id}: ready")
    expect(ready).to_have_count(1, timeout=WAIT_MS)

    site.llm.script(Reply(text=("Hello", " from", " the model")))
    page.fill("#prompt", "Say hello")
    page.click("#send")

    expect(page.locator("#assistant")).to_have_text("Hello from the model", timeout=WAIT_MS)

    page.fill("#command", "echo from-the-page-$((6 * 7))")
    page.click("#run")

    expect(page.locator("#terminal")).to_contain_text("from-the-page-42", timeout=WAIT_MS)

    page.click("#preview-web")

    expect(page.locator("#service-status")).to_have_text("running", timeout=WAIT_MS)
    shown = page.frame_locator("#preview").locator("body")
    expect(shown).to_contain_text("# Demo, served by a service", timeout=WAIT_MS)
    expect(page.locator("#errors li")).to_have_count(0)
