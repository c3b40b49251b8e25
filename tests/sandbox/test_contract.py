"""The contract every sandbox provider keeps, run against each one this machine can run."""

from __future__ import annotations

import contextlib
import re

import anyio
import httpx
import pytest

from apps.sandbox.local import LocalProvider, tmux_socket
from apps.sandbox.provider import PtyConnection, SandboxState
from discobot.errors import ApplicationError, ConflictError, NotFoundError
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def short_data_dir(settings, tmp_path_factory):
    """The local provider's tmux socket is under DATA_DIR, and a Unix socket's path must fit in
    108 bytes: a test's own tmp_path can be longer."""
    settings.DATA_DIR = tmp_path_factory.mktemp("d", numbered=True)


def sh(provider, session_uuid: str, script: str, **kwargs):
    return provider.exec(session_uuid, ["sh", "-c", script], **kwargs)


class TestLifecycle:
    def test_a_sandbox_goes_through_its_states_and_each_step_is_idempotent(self, provider, spec):
        sandbox = spec.session_uuid
        assert provider.status(sandbox).state == SandboxState.MISSING

        assert provider.create(spec).state == SandboxState.CREATED
        assert provider.create(spec).state == SandboxState.CREATED
        assert provider.start(sandbox).state == SandboxState.RUNNING
        assert provider.start(sandbox).state == SandboxState.RUNNING
        assert provider.status(sandbox).state == SandboxState.RUNNING
        assert sandbox in {info.session_uuid for info in provider.list()}
        assert provider.stop(sandbox).state == SandboxState.STOPPED
        assert provider.stop(sandbox).state == SandboxState.STOPPED
        assert provider.start(sandbox).state == SandboxState.RUNNING

        provider.remove(sandbox)
        provider.remove(sandbox)

        assert provider.status(sandbox).state == SandboxState.MISSING
        assert sandbox not in {info.session_uuid for info in provider.list()}


class TestExec:
    def test_a_missing_sandbox_is_not_found_and_a_stopped_one_a_conflict(self, provider, spec):
        with pytest.raises(NotFoundError):
            provider.exec(spec.session_uuid, ["true"])
        provider.create(spec)
        with pytest.raises(ConflictError):
            provider.exec(spec.session_uuid, ["true"])
        with pytest.raises(ConflictError):
            provider.attach_pty(spec.session_uuid, ["true"], rows=24, cols=80)
        provider.remove(spec.session_uuid)

    def test_exit_code_stdout_and_stderr_come_back(self, provider, running):
        result = sh(provider, running, "echo out; echo err >&2; exit 3")

        assert (result.exit_code, result.stdout, result.stderr) == (3, b"out\n", b"err\n")
        assert not result.timed_out and not result.truncated

    def test_workspace_is_the_working_copy(self, provider, running, working_copy):
        assert sh(provider, running, "cat marker.txt").stdout == b"the working copy\n"
        assert sh(provider, running, "cat inner.txt", cwd="/workspace/sub").stdout == (
            b"inside sub\n"
        )

        sh(provider, running, "echo made > made.txt")

        assert (working_copy / "made.txt").read_text() == "made\n"

    def test_the_given_env_and_the_sandboxs_env_are_seen(self, provider, running):
        result = sh(provider, running, 'echo "$SANDBOX_GREETING/$OWN"', env={"OWN": "given"})

        assert result.stdout == b"from the spec/given\n"

    def test_the_servers_secrets_are_not_seen(self, provider, running, monkeypatch):
        monkeypatch.setenv("ENCRYPTION_KEY", "a-server-secret")
        monkeypatch.setenv("DATABASE_URL", "postgres://secret@db/discobot")

        environment = sh(provider, running, "env").stdout.decode()

        assert "a-server-secret" not in environment
        assert "DATABASE_URL" not in environment
        assert "PATH=" in environment

    def test_a_command_past_its_timeout_is_killed(self, provider, running):
        result = sh(provider, running, "sleep 60 & sleep 60; echo never", timeout=1)

        assert result.timed_out
        assert result.exit_code != 0
        assert b"never" not in result.stdout

    def test_output_past_the_cap_is_cut_and_flagged(self, provider, running):
        result = sh(provider, running, "yes | head -c 100000", output_cap=1000)

        assert result.truncated
        assert result.stdout == b"y\n" * 500
        assert result.exit_code == 0


class TestAttachPty:
    def test_typed_input_runs_and_its_output_is_read(self, provider, running):
        terminal = provider.attach_pty(running, ["sh"], rows=24, cols=80)
        try:
            terminal.write(b"echo hi-$((40 + 2))\n")

            assert "hi-42" in read_until(terminal, "hi-42")
        finally:
            terminal.close()

    def test_a_resize_changes_stty_size(self, provider, running):
        terminal = provider.attach_pty(running, ["sh"], rows=24, cols=80)
        try:
            terminal.write(b"stty size\n")
            assert "24 80" in read_until(terminal, "24 80")

            terminal.resize(40, 120)
            terminal.write(b"stty size\n")

            assert "40 120" in read_until(terminal, "40 120")
        finally:
            terminal.close()

    def test_the_terminal_starts_in_the_working_copy(self, provider, running):
        terminal = provider.attach_pty(running, ["sh"], rows=24, cols=80)
        try:
            terminal.write(b"cat marker.txt\n")

            assert "the working copy" in read_until(terminal, "the working copy")
        finally:
            terminal.close()


class TestSpawn:
    """A long-running program on pipes (an MCP stdio server), spoken to without blocking."""

    def test_input_reaches_the_program_and_its_output_comes_back(self, provider, running):
        async def converse() -> tuple[bytes, bytes, int]:
            process = provider.spawn(running, ["sh", "-c", "cat; echo done >&2; exit 5"])
            try:
                await process.write(b"first line\n")
                echoed = await read_all_of(process.read, b"first line\n")
                await process.close_stdin()
                stderr = await read_all_of(process.read_stderr, b"done\n")
                return echoed, stderr, await process.wait()
            finally:
                await process.close()

        assert anyio.run(converse) == (b"first line\n", b"done\n", 5)

    def test_output_ends_when_the_program_ends(self, provider, running):
        async def everything() -> bytes:
            process = provider.spawn(running, ["sh", "-c", "printf 'a\\nb\\n'"])
            try:
                seen = b""
                while chunk := await process.read():
                    seen += chunk
                return seen
            finally:
                await process.close()

        assert anyio.run(everything) == b"a\nb\n"

    def test_it_runs_in_the_working_copy_with_the_given_env(self, provider, running):
        async def output() -> bytes:
            command = ["sh", "-c", 'cat inner.txt; echo "$OWN/$SANDBOX_GREETING"']
            process = provider.spawn(running, command, env={"OWN": "given"}, cwd="/workspace/sub")
            try:
                return await read_all_of(process.read, b"from the spec\n")
            finally:
                await process.close()

        assert anyio.run(output) == b"inside sub\ngiven/from the spec\n"

    def test_close_ends_a_program_that_would_run_on(self, provider, running):
        # A duration of its own: other tests' sandboxes may be seen by ps on this machine.
        sleep = f"sleep 300.{int(running[:6], 16)}"

        async def started_then_closed() -> None:
            process = provider.spawn(running, ["sh", "-c", f"echo started; exec {sleep}"])
            await read_all_of(process.read, b"started\n")
            await process.close()
            with anyio.fail_after(30):
                await process.wait()

        anyio.run(started_then_closed)

        sleeping = sh(provider, running, "ps -eo args 2>/dev/null || true").stdout
        assert sleep.encode() not in sleeping

    def test_a_stopped_sandbox_refuses(self, provider, spec):
        provider.create(spec)
        try:
            with pytest.raises(ConflictError):
                provider.spawn(spec.session_uuid, ["cat"])
        finally:
            provider.remove(spec.session_uuid)


async def read_all_of(read, expected: bytes) -> bytes:
    """Reads until `expected` ends what came (or the stream ends), within a generous deadline."""
    seen = b""
    with anyio.fail_after(30):
        while not seen.endswith(expected):
            chunk = await read()
            if not chunk:
                break
            seen += chunk
    return seen


class TestLocalProvider:
    """What only the local provider has to say: its paths are the server's."""

    @pytest.fixture
    def provider(self):
        return LocalProvider()

    @pytest.mark.parametrize("cwd", ["/etc", "/workspace/../..", "../outside"])
    def test_a_directory_outside_the_workspace_is_refused(self, provider, running, cwd):
        with pytest.raises(ApplicationError, match="outside /workspace"):
            sh(provider, running, "pwd", cwd=cwd)

    def test_a_symlink_out_of_the_working_copy_is_refused(self, provider, running, working_copy):
        (working_copy / "escape").symlink_to("/etc")

        with pytest.raises(ApplicationError, match="outside /workspace"):
            sh(provider, running, "pwd", cwd="/workspace/escape")

    def test_states_survive_a_new_provider_object(self, provider, spec):
        """What a restart of the server sees: the registry on disk."""
        provider.create(spec)
        provider.start(spec.session_uuid)

        assert LocalProvider().status(spec.session_uuid).state == SandboxState.RUNNING

    def test_the_tmux_server_ends_with_the_sandbox(self, provider, spec, short_data_dir):
        provider.create(spec)
        provider.start(spec.session_uuid)
        shell_open(provider, spec.session_uuid)
        assert tmux_socket(spec.session_uuid).exists()

        provider.stop(spec.session_uuid)

        assert not tmux_socket(spec.session_uuid).exists()
        provider.remove(spec.session_uuid)


class TestTmux:
    """The terminal's shell lives in a tmux session of the sandbox, which outlives its clients."""

    @pytest.fixture(autouse=True)
    def short_paths(self, short_data_dir):
        pass

    def test_a_shell_survives_a_detach_and_a_second_client_shares_it(self, provider, running):
        first = provider.attach_tmux(running, "main", rows=24, cols=80)
        first.write(b"KEPT=still-here; echo set-$KEPT\r")
        read_until(first, "set-still-here")
        first.close()

        second = provider.attach_tmux(running, "main", rows=24, cols=80)
        third = provider.attach_tmux(running, "main", rows=24, cols=80)
        try:
            second.write(b"echo again-$KEPT\r")
            assert "again-still-here" in read_until(second, "again-still-here")
            assert "again-still-here" in read_until(third, "again-still-here")
        finally:
            second.close()
            third.close()

    def test_the_shell_prints_its_prompt_without_input_and_no_status_bar(self, provider, running):
        terminal = provider.attach_tmux(running, "main", rows=24, cols=80)
        try:
            screen = read_until(terminal, PROMPT_END)
        finally:
            terminal.close()

        assert "[main]" not in screen  # tmux's status bar names the session

    def test_tmux_commands_reach_the_server_of_the_terminal(self, provider, running, settings):
        shell_open(provider, running)
        tmux = provider.tmux_command(running)

        sessions = provider.exec(running, [*tmux, "list-sessions", "-F", "#{session_name}"])
        limit = provider.exec(running, [*tmux, "show-options", "-gv", "history-limit"])

        assert sessions.stdout.decode().split() == ["main"]
        assert limit.stdout.decode().strip() == str(settings.TERMINAL_SCROLLBACK_LINES)

    def test_a_closed_terminal_leaves_no_tmux_client_behind(self, provider, running):
        """Docker does not end an exec whose connection closed: closing hangs it up."""
        shell_open(provider, running)
        tmux = provider.tmux_command(running)

        def clients() -> str:
            return provider.exec(running, [*tmux, "list-clients"]).stdout.decode()

        wait_for(lambda: clients() == "", timeout=30)

    def test_input_written_without_blocking_runs(self, provider, running):
        terminal = provider.attach_tmux(running, "main", rows=24, cols=80)
        remaining = b"echo nb-$((6 * 7))\r"

        def all_written() -> bool:
            nonlocal remaining
            remaining = remaining[terminal.write_some(remaining) :]
            return not remaining

        try:
            wait_for(all_written, timeout=30, interval=0.05)
            assert "nb-42" in read_until(terminal, "nb-42")
        finally:
            terminal.close()


def shell_open(provider, session_uuid: str) -> None:
    """Attaches to the tmux session "main" until its shell prompts, and detaches."""
    terminal = provider.attach_tmux(session_uuid, "main", rows=24, cols=80)
    try:
        read_until(terminal, PROMPT_END)
    finally:
        terminal.close()


# bash's prompt ends in "$ ", or "# " for root (the local provider runs as the server's user).
PROMPT_END = re.compile(r"[$#] ")


def read_until(terminal: PtyConnection, needle: str | re.Pattern[str]) -> str:
    seen = []

    def found() -> bool:
        with contextlib.suppress(TimeoutError):
            seen.append(terminal.read(timeout=0.5).decode(errors="replace"))
        text = "".join(seen)
        return bool(needle.search(text)) if isinstance(needle, re.Pattern) else needle in text

    wait_for(found, timeout=30, interval=0)
    return "".join(seen)


class TestPortAddress:
    def test_a_program_listening_in_the_sandbox_is_reached_at_the_address(self, provider, running):
        port = 18000 + int(running[:4], 16) % 1000  # of its own: local sandboxes share one host
        serve = f"echo ready; exec python3 -m http.server {port}"

        async def fetched() -> bytes:
            process = provider.spawn(running, ["sh", "-c", serve])
            try:
                await read_all_of(process.read, b"ready\n")
                host, at = provider.port_address(running, port)
                assert at == port
                url = f"http://{host}:{port}/marker.txt"
                async with httpx.AsyncClient(trust_env=False) as client:
                    for _ in range(300):
                        with contextlib.suppress(httpx.TransportError):
                            return (await client.get(url)).content
                        await anyio.sleep(0.1)
                raise TimeoutError(url)
            finally:
                await process.close()

        assert anyio.run(fetched) == b"the working copy\n"

    def test_a_stopped_sandbox_has_no_address(self, provider, spec):
        provider.create(spec)
        with pytest.raises(ConflictError):
            provider.port_address(spec.session_uuid, 8000)
        provider.remove(spec.session_uuid)
