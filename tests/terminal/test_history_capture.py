"""The transcript is read from the sandbox's own tmux terminals: each line recorded once,
through `clear` and full-screen programs, bounded, and kept after the sandbox is gone. Run
against every provider this machine can run (docker is skipped, saying so, without an engine)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.credentials.services import credential_api_key_store
from apps.sandbox.local import tmux_socket
from apps.sandbox.provider import SandboxProvider
from apps.sandbox.selectors import provider_get, providers_available
from apps.terminal.models import TerminalHistory, TerminalTranscript
from apps.terminal.services import transcript_capture
from apps.workspaces.models import Session, SessionStatus
from apps.workspaces.sandboxes import session_sandbox_spec
from apps.workspaces.signals import sandbox_stopping
from discobot.redaction import encoded_forms
from tests.waiting import wait_for
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["local", "docker"])
def provider(request, settings, tmp_path_factory, auth_enabled) -> SandboxProvider:
    # A short DATA_DIR: the local tmux socket's path must fit in a Unix socket address.
    settings.DATA_DIR = tmp_path_factory.mktemp("d", numbered=True)
    if request.param not in providers_available():
        pytest.skip(f"the {request.param} provider is not available here (no engine answers)")
    found = provider_get(request.param)
    assert found is not None
    return found


@pytest.fixture
def session(provider, project, tmp_path) -> Iterator[Session]:
    """A ready session whose sandbox runs; removed after the test."""
    working_copy = tmp_path / "copy"
    working_copy.mkdir()
    session = SessionFactory.create(
        workspace=WorkspaceFactory.create(project=project),
        status=SessionStatus.READY,
        workspace_path=str(working_copy),
        sandbox_provider=provider.name,
    )
    provider.create(session_sandbox_spec(session))
    provider.start(str(session.uuid))
    yield session
    provider.remove(str(session.uuid))


class Terminal:
    """A shell in a tmux session of the sandbox, as the terminal WebSocket leaves one."""

    def __init__(self, provider: SandboxProvider, session: Session, name: str) -> None:
        self.provider, self.sandbox, self.target = provider, str(session.uuid), f"={name}:"
        if provider.name == "local":  # its socket's folder, made by the terminal's attach
            tmux_socket(self.sandbox).parent.mkdir(parents=True, exist_ok=True)
        self.tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "24", "env PS1='$ ' sh")
        wait_for(lambda: "$" in self.screen(), timeout=30)  # keys typed before it would show first

    def tmux(self, *arguments: str) -> str:
        command = [*self.provider.tmux_command(self.sandbox, root=False), *arguments]
        result = self.provider.exec(self.sandbox, command)
        assert result.exit_code == 0, result.stderr
        return result.stdout.decode()

    def run(self, command: str, *, shows: str) -> None:
        """Types `command` and waits until the screen shows `shows` on a line of its own."""
        self.tmux("send-keys", "-t", self.target, "-l", command)
        self.tmux("send-keys", "-t", self.target, "Enter")
        wait_for(lambda: shows in self.screen(), timeout=30)

    def screen(self) -> list[str]:
        text = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", self.target)
        return [line.rstrip() for line in text.splitlines()]


def history(session: Session) -> list[str]:
    return list(
        TerminalHistory.objects.filter(session=session)
        .order_by("line")
        .values_list("content", flat=True)
    )


def test_each_line_is_recorded_once_however_often_it_is_captured(provider, session):
    terminal = Terminal(provider, session, "main")
    terminal.run("printf 'first-%s\\n' 1 2", shows="first-2")

    assert transcript_capture(session=session) == 3
    assert transcript_capture(session=session) == 0

    terminal.run("echo second", shows="second")
    transcript_capture(session=session)

    assert history(session) == [
        "$ printf 'first-%s\\n' 1 2",
        "first-1",
        "first-2",
        "$ echo second",
        "second",
    ]


def test_a_clear_between_captures_neither_repeats_nor_loses_lines(provider, session):
    terminal = Terminal(provider, session, "main")
    terminal.run("echo before-clear", shows="before-clear")
    transcript_capture(session=session)

    terminal.run("clear; echo after-clear", shows="after-clear")
    transcript_capture(session=session)
    terminal.run("echo later", shows="later")
    transcript_capture(session=session)

    lines = history(session)
    assert [lines.count(text) for text in ("before-clear", "after-clear", "later")] == [1, 1, 1]
    assert lines.index("before-clear") < lines.index("after-clear") < lines.index("later")


def test_a_full_screen_program_is_left_out_and_what_came_before_is_kept_once(provider, session):
    terminal = Terminal(provider, session, "main")
    terminal.run("echo before-program", shows="before-program")
    transcript_capture(session=session)

    # The alternate screen, as vim or less use it, until Enter.
    program = "printf '\\033[?1049h\\033[Hfull-screen\\n'; read answer; printf '\\033[?1049l'"
    terminal.run(program, shows="full-screen")
    transcript_capture(session=session)
    terminal.run("", shows="$")
    terminal.run("echo after-program", shows="after-program")
    transcript_capture(session=session)

    lines = history(session)
    assert "full-screen" not in lines
    assert [lines.count(text) for text in ("before-program", "after-program")] == [1, 1]


def test_every_terminal_of_the_sandbox_is_recorded(provider, session):
    first, second = Terminal(provider, session, "one"), Terminal(provider, session, "two")
    first.run("echo from-one", shows="from-one")
    second.run("echo from-two", shows="from-two")

    transcript_capture(session=session)

    assert {"from-one", "from-two"} <= set(history(session))


def test_history_keeps_only_the_latest_lines(provider, session, settings):
    settings.TERMINAL_HISTORY_MAX_LINES = 5
    terminal = Terminal(provider, session, "main")
    terminal.run("seq 1 12", shows="12")
    transcript_capture(session=session)

    terminal.run("seq 13 15", shows="15")
    transcript_capture(session=session)

    assert history(session) == ["12", "$ seq 13 15", "13", "14", "15"]


def test_a_capture_already_running_is_not_repeated(provider, session):
    terminal = Terminal(provider, session, "main")
    terminal.run("echo once", shows="once")
    transcript_capture(session=session)
    # Another tab's (or process's) capture holds the lease.
    TerminalTranscript.objects.filter(session=session).update(capturing_until="2999-01-01T00:00Z")
    terminal.run("echo meanwhile", shows="meanwhile")

    assert transcript_capture(session=session) == 0
    assert "meanwhile" not in history(session)


def test_history_is_searchable_after_the_sandbox_is_removed(
    provider, session, project, member, client_for
):
    terminal = Terminal(provider, session, "main")
    terminal.run("echo Needle-In-Output", shows="Needle-In-Output")
    terminal.run("printf %s no-newline", shows="no-newline$")

    sandbox_stopping.send(sender=Session, session=session)
    provider.remove(str(session.uuid))

    url = f"/api/projects/{project.id}/sessions/{session.id}/terminal/history"
    response = client_for(member).get(f"{url}?q=needle")
    assert [row["content"] for row in response.json()["history"]] == [
        "$ echo Needle-In-Output",
        "Needle-In-Output",
    ]
    # The cursor's line too: the terminal ended with the sandbox.
    assert history(session)[-1] == "no-newline$"


def test_a_stored_key_printed_in_the_terminal_is_masked_in_the_transcript(provider, session):
    canary = "sk-canary-7d1e5b3a9c2f4e60"
    credential_api_key_store(project=session.project, provider="openai", api_key=canary)
    terminal = Terminal(provider, session, "main")
    terminal.run(f"echo {canary} | base64; echo done", shows="done")

    transcript_capture(session=session)
    transcript_capture(session=session)  # compared with the masked lines kept: nothing twice

    lines = history(session)
    assert lines.count("done") == 1
    assert lines[0] == "$ echo **** | base64; echo done"
    kept = [*lines, str(TerminalTranscript.objects.get(session=session).terminals)]
    assert [form for form in encoded_forms(canary) if any(form in line for line in kept)] == []
