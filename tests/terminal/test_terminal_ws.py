"""The terminal WebSocket end to end: a real server, a real client, the shell in a real sandbox
(the local provider, and Docker where an engine answers)."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from discobot.redaction import encoded_forms
from tests.servers import serving
from tests.terminal.client import PROMPT_END, TerminalClient
from tests.terminal.conftest import terminal_site
from tests.waiting import wait_for

# How long the client stalls, and a generous bound on what the server may grow meanwhile (a few
# frames in flight and the allocator's slack, far below what `yes` sends in that time).
STALL_SECONDS = 5
STTY_SIZE = re.compile(r"\d+ \d+\r\n")
STALL_GROWTH_BOUND_KIB = 64 * 1024


def opened(site, query: str = "rows=24&cols=80") -> TerminalClient:
    client = TerminalClient(site.url(query))
    assert client.status == 101
    return client


def test_the_shell_prints_its_first_prompt_and_runs_a_typed_command(site):
    client = opened(site)
    try:
        client.output_until(PROMPT_END)

        output = client.run("echo hi-$((40 + 2)); cat marker.txt", "the working copy")

        assert "hi-42" in output
        assert client.errors == []
    finally:
        client.leave()


def test_keys_typed_while_the_sandbox_starts_reach_the_shell_and_the_connection_stays(
    provider_name, short_tmp
):
    # The server pings every 0.2 s here: a first attach, which starts the sandbox (a container
    # on docker), takes longer. The server once read nothing more, pongs included, until the
    # attach was done, and closed a client that had typed meanwhile with 1011.
    for site in terminal_site(provider_name, short_tmp, WEBSOCKET_PING_SECONDS="0.2"):
        client = opened(site)
        try:
            client.type("echo typed-early-$((40 + 2))\r")

            client.output_until("typed-early-42\r\n")

            assert client.close_code is None
            assert client.errors == []
        finally:
            client.leave()


def test_a_resize_changes_stty_size(site):
    client = opened(site, "rows=30&cols=100")
    try:
        client.output_until(PROMPT_END)
        assert "30 100" in client.run("stty size", "30 100")

        client.resize(40, 120)

        # The new size reaches the shell through tmux a moment later: asked until it shows.
        wait_for(lambda: "40 120" in client.run("stty size", STTY_SIZE), timeout=30)
    finally:
        client.leave()


def test_a_reconnect_in_the_middle_of_less_redraws_its_screen(site):
    lines = "".join(f"page-line-{n:02d}\n" for n in range(1, 60))
    (site.working_copy / "long.txt").write_text(lines)
    first = opened(site)
    first.output_until(PROMPT_END)
    first.run("less long.txt", "page-line-20")
    first.leave()

    second = opened(site)
    try:
        # Nothing typed: tmux draws the alternate screen less is showing, top to bottom.
        screen = second.output_until("page-line-23")

        assert "page-line-01" in screen
        second.type("q")
        assert "after-less" in second.run("echo after-less", "after-less")
    finally:
        second.leave()


def test_a_second_client_sees_the_same_shell_and_can_type(site):
    first, second = opened(site), opened(site)
    try:
        first.output_until(PROMPT_END)
        second.output_until(PROMPT_END)

        second.run("echo typed-in-$((2 * 21))", "typed-in-42")

        assert "typed-in-42" in first.output_until("typed-in-42")
    finally:
        first.leave()
        second.leave()


def test_the_shell_ends_the_connection_cleanly_when_it_exits(site):
    client = opened(site)
    client.output_until(PROMPT_END)

    client.type("exit\r")

    assert client.read_to_close() == 1000


def test_the_shell_and_its_jobs_survive_a_restart_of_the_server(site, short_tmp):
    client = opened(site)
    client.output_until(PROMPT_END)
    client.run("sleep 4242 &", PROMPT_END)
    client.leave()

    os.kill(site.server.pid, signal.SIGKILL)
    with serving(site.server.env, short_tmp / "restarted.log") as restarted:
        site.server = restarted
        again = opened(site)
        try:
            assert "sleep 4242" in again.run("jobs", "sleep 4242")
        finally:
            again.leave()


def test_root_true_gives_a_root_shell(site, provider_name):
    if provider_name != "docker":
        pytest.skip("the local provider runs everything as the server's own user")
    client = opened(site, "rows=24&cols=80&root=true")
    try:
        client.output_until(PROMPT_END)
        output = client.run("echo uid-is-$(id -u)", re.compile(r"uid-is-\d"))
        assert re.search(r"uid-is-0\b", output)
    finally:
        client.leave()


def test_the_user_shell_is_not_root_in_docker(site, provider_name):
    if provider_name != "docker":
        pytest.skip("the local provider runs everything as the server's own user")
    client = opened(site)
    try:
        client.output_until(PROMPT_END)
        output = client.run("echo uid-is-$(id -u)", re.compile(r"uid-is-\d"))
        assert "uid-is-1000" in output
    finally:
        client.leave()


def test_a_stalled_client_does_not_grow_the_servers_memory(site):
    """The client reads nothing while `yes` floods the terminal. A server with WebSocket
    backpressure stops the consumer's sends, the consumer stops reading the PTY, and tmux
    throttles; memory stays flat."""
    client = opened(site)
    client.output_until(PROMPT_END)
    before = resident_kib(site.server.pid)

    client.type("yes stalled-client-output\r")
    samples = []
    stalled_until = time.monotonic() + STALL_SECONDS
    while time.monotonic() < stalled_until:
        time.sleep(0.5)
        samples.append(resident_kib(site.server.pid))
    # The flood was real: reading again, the client gets it.
    client.output_until("stalled-client-output")
    client.type("\x03")
    client.leave()

    growth = max(samples) - before
    assert growth < STALL_GROWTH_BOUND_KIB, f"the server grew by {growth} KiB"


def resident_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1))


def test_an_attach_and_a_detach_are_in_the_session_s_actions_with_the_address(site):
    client = opened(site)
    client.output_until(PROMPT_END)
    client.leave()

    def actions() -> list[dict]:
        url = f"{site.server.base_url}/api/projects/local/sessions/{site.session_id}/actions"
        with urllib.request.urlopen(url, timeout=30) as response:
            found: list[dict] = json.loads(response.read())["actions"]
            return found

    wait_for(lambda: len(actions()) == 2, timeout=30)
    detach, attach = actions()
    assert (attach["kind"], detach["kind"]) == ("terminal_attach", "terminal_detach")
    for action in (attach, detach):
        assert action["address"] == "127.0.0.1"
        assert action["user"] is not None


JOIN_LOCAL = """
from apps.accounts.models import User
from apps.projects.models import Project, ProjectMember
project, _ = Project.objects.get_or_create(id="local", defaults={{"name": "Local"}})
ProjectMember.objects.create(project=project, user=User.objects.get(email="{email}"))
"""
# The capture made before the sandbox stops (a detach's may be skipped while another runs).
FINAL_CAPTURE = """
from apps.terminal.services import transcript_capture
from apps.workspaces.models import Session
transcript_capture(session=Session.objects.get(id="term-1"), final=True)
"""
TRANSCRIPT = """
from apps.terminal.models import TerminalHistory, TerminalTranscript
print("\\n".join(TerminalHistory.objects.values_list("content", flat=True)))
print(TerminalTranscript.objects.values_list("terminals", flat=True).first())
"""


def test_the_token_a_terminal_signed_in_with_is_masked_in_its_transcript(provider_name, short_tmp):
    settings = {
        "AUTH_ENABLED": "true",
        "SESSION_SECRET": "t" * 50,
        "ENCRYPTION_KEY": "ab" * 32,
        "LOCAL_PROVIDER_ENABLED": "true",
    }
    with contextmanager(terminal_site)(provider_name, short_tmp, **settings) as site:
        made = site.server.manage("create_token", "--email", "ann@example.com", "--create-user")
        token = made.stdout.strip()
        joined = site.server.manage("shell", "-c", JOIN_LOCAL.format(email="ann@example.com"))
        assert joined.returncode == 0, joined.stderr
        client = TerminalClient(site.url(), headers={"Authorization": f"Bearer {token}"})
        assert client.status == 101
        client.output_until(PROMPT_END)

        client.run(f"echo {token}; printf %s {token} | base64 -w0; echo; echo done", "done\r\n")
        client.leave()

        def transcript() -> str:
            shown = site.server.manage("shell", "-c", TRANSCRIPT)
            assert shown.returncode == 0, shown.stderr
            return shown.stdout

        captured = site.server.manage("shell", "-c", FINAL_CAPTURE)
        assert captured.returncode == 0, captured.stderr
        wait_for(lambda: "done" in transcript().splitlines(), timeout=60)
        kept = transcript() + site.server.manage("dumpdata").stdout
        assert "****" in kept
        assert [form for form in encoded_forms(token) if form in kept] == []
