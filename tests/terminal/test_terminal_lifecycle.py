"""The terminal with the rest of the session's life: its history kept from what it showed, and
the idle stop, which waits while a terminal is attached (a real server, worker and sandbox)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from tests.servers import stop_process
from tests.terminal.client import PROMPT_END, TerminalClient
from tests.terminal.conftest import TerminalSite, terminal_site
from tests.waiting import wait_for

IDLE_SECONDS = 2


@pytest.fixture
def busy_site(provider_name, short_tmp) -> Iterator[TerminalSite]:
    """Captures every second, a sandbox idle after 2 s, holds renewed every second, and a
    worker looking every second."""
    yield from terminal_site(
        provider_name,
        short_tmp,
        TERMINAL_CAPTURE_SECONDS="1",
        SANDBOX_IDLE_TIMEOUT=str(IDLE_SECONDS),
        SANDBOX_USE_LEASE_SECONDS="3",
        SANDBOX_RECONCILE_SECONDS="1",
    )


def get(site: TerminalSite, path: str) -> dict:
    url = f"{site.server.base_url}/api/projects/local/sessions/{site.session_id}{path}"
    with urllib.request.urlopen(url, timeout=30) as response:
        body: dict = json.loads(response.read())
        return body


def session_status(site: TerminalSite) -> str:
    return str(get(site, "")["status"])


def opened(site: TerminalSite) -> TerminalClient:
    client = TerminalClient(site.url())
    assert client.status == 101
    client.output_until(PROMPT_END)
    return client


def test_what_the_terminal_showed_is_searchable_in_its_history(busy_site):
    client = opened(busy_site)
    try:
        client.run("echo history-$((6 * 7))-kept", "history-42-kept")

        def recorded() -> bool:
            found = get(busy_site, "/terminal/history?q=history-42-kept")["history"]
            return any(row["content"] == "history-42-kept" for row in found)

        wait_for(recorded, timeout=60)
    finally:
        client.leave()


def test_an_attached_terminal_keeps_the_sandbox_up_and_its_leaving_lets_it_stop(busy_site):
    worker = busy_site.server.start_worker(log=busy_site.server.log)
    try:
        client = opened(busy_site)
        # Several idle timeouts and worker passes while attached: still up.
        client.run(f"sleep {IDLE_SECONDS * 4}; echo still-attached", "still-attached")
        assert session_status(busy_site) == "ready"
        assert get(busy_site, "/terminal/status")["status"] == "running"

        client.leave()

        wait_for(lambda: session_status(busy_site) == "stopped", timeout=60)
        assert get(busy_site, "/terminal/status")["status"] == "stopped"

        # The next terminal starts it again.
        again = opened(busy_site)
        try:
            assert "back-42" in again.run("echo back-$((40 + 2))", "back-42")
            assert session_status(busy_site) == "ready"
        finally:
            again.leave()
    finally:
        stop_process(worker)
