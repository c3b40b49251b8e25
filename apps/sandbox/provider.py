"""The interface every sandbox provider implements (docker, local; a cluster engine later).

Callers name a sandbox by its session and never see how it runs: a provider on another engine
(one Kubernetes pod per session, say) plugs in behind the same calls.
"""

from __future__ import annotations

import enum
import hashlib
import os
import select
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from django.conf import settings

from discobot.errors import ConflictError

# Where the session's working copy is, seen from inside any sandbox.
WORKSPACE = "/workspace"
EXEC_OUTPUT_CAP = 1024 * 1024


class SandboxUnavailable(ConflictError):
    """The provider's engine does not answer now: worth trying again later."""


class SandboxImageMissing(ConflictError):
    """The image sandboxes run is not on the engine: building it is the operator's step."""


def sandbox_instance() -> str:
    """Which Discobot installation made a sandbox: two servers (or test runs) sharing one
    engine each reconcile only their own. Blank SANDBOX_INSTANCE: derived from DATA_DIR, where
    the installation keeps its working copies."""
    if settings.SANDBOX_INSTANCE:
        return str(settings.SANDBOX_INSTANCE)
    data_dir = os.path.realpath(settings.DATA_DIR)
    return hashlib.sha256(data_dir.encode()).hexdigest()[:12]


class SandboxState(enum.StrEnum):
    MISSING = "missing"  # never created, or removed (also from outside the app)
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SandboxSpec:
    """What a session's sandbox is made from."""

    session_uuid: str  # the session's primary key: unique across projects
    session_id: str  # the client's id, for names and labels people read
    project_id: str
    working_copy: Path  # mounted (or used) as the sandbox's /workspace
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SandboxInfo:
    session_uuid: str
    state: SandboxState
    name: str = ""  # the engine's name for it, e.g. discobot-session-<id>
    image: str = ""  # what it runs ("local" for the local provider)
    created_at: datetime | None = None
    started_at: datetime | None = None  # the last start; None if never started
    stopped_at: datetime | None = None  # the last stop, when stopped
    error: str = ""  # the engine's word on why it failed to start or stopped, if any


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    truncated: bool = False  # output went past the cap and was cut


class PtyConnection(Protocol):
    """An interactive terminal attached to a program in the sandbox."""

    def read(self, max_bytes: int = 65536, timeout: float | None = None) -> bytes:
        """Output so far (blocks up to `timeout`, None: until some comes); b"" once the program
        has ended; TimeoutError when nothing came in time."""

    def write(self, data: bytes) -> None: ...

    def write_some(self, data: bytes) -> int:
        """Writes what the terminal takes now without blocking; how many bytes that was."""

    def fileno(self) -> int:
        """A descriptor an event loop can wait on: readable when output (or the end) is there,
        writable when input fits."""

    def resize(self, rows: int, cols: int) -> None: ...

    def close(self) -> None:
        """Detaches; what runs in the sandbox (a tmux session) keeps running."""


class SandboxProcess(Protocol):
    """A long-running program in the sandbox with piped stdin, stdout and stderr (no terminal),
    such as an MCP stdio server. Its methods wait without blocking the event loop."""

    async def read(self, max_bytes: int = 65536) -> bytes:
        """Some stdout; b"" once the program closed it (or ended)."""

    async def read_stderr(self, max_bytes: int = 65536) -> bytes:
        """Some stderr; b"" once the program closed it (or ended)."""

    async def write(self, data: bytes) -> None:
        """Writes all of `data` to the program's stdin; BrokenPipeError once it is gone."""

    async def close_stdin(self) -> None:
        """Ends the program's input: it reads end-of-file."""

    async def wait(self) -> int:
        """Its exit code, once it has ended."""

    async def close(self) -> None:
        """Ends the program (terminated, then killed) and releases its pipes; idempotent."""


class SandboxProvider(Protocol):
    name: str

    def available(self) -> bool:
        """Whether this provider can run sandboxes here now (an engine answers, ...)."""

    def check(self) -> None:
        """Raises SandboxUnavailable or SandboxImageMissing, saying why, when `available()`
        would be false."""

    def create(self, spec: SandboxSpec) -> SandboxInfo:
        """Creates the sandbox if it does not exist; idempotent."""

    def start(self, session_uuid: str) -> SandboxInfo: ...

    def stop(self, session_uuid: str) -> SandboxInfo: ...

    def remove(self, session_uuid: str) -> None:
        """Removes the sandbox; a missing one is not an error."""

    def status(self, session_uuid: str) -> SandboxInfo: ...

    def list(self) -> list[SandboxInfo]:
        """Every sandbox this provider holds for this Discobot installation (see
        `sandbox_instance`), for reconciling with sessions. Raises when the engine cannot be
        reached: an empty list means there are none."""

    def port_address(self, session_uuid: str, port: int) -> tuple[str, int]:
        """Where this server reaches `port` of the running sandbox (a service's preview):
        host and port. ConflictError when the sandbox is not running or has no address."""

    def exec(
        self,
        session_uuid: str,
        command: Sequence[str],
        *,
        cwd: str = WORKSPACE,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        timeout: float = 60.0,
        output_cap: int = EXEC_OUTPUT_CAP,
    ) -> ExecResult:
        """Runs a command to completion. `cwd` is a path inside the sandbox (`/workspace` is the
        working copy); `user` None is the sandbox's non-root user, "root" is root."""

    def attach_pty(
        self,
        session_uuid: str,
        command: Sequence[str],
        *,
        rows: int,
        cols: int,
        root: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> PtyConnection:
        """Starts `command` on a new terminal of the given size, in `/workspace`."""

    def spawn(
        self,
        session_uuid: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str = WORKSPACE,
    ) -> SandboxProcess:
        """Starts `command` as the sandbox's user with pipes for stdin, stdout and stderr, and
        returns at once; the caller talks to it and closes it."""

    def attach_tmux(
        self, session_uuid: str, name: str, *, rows: int, cols: int, root: bool = False
    ) -> PtyConnection:
        """A new tmux client on the sandbox's tmux session `name` (made with a shell if
        missing), for the sandbox user or, with `root`, for root. The shell outlives the
        client: closing it detaches."""

    def tmux_command(self, session_uuid: str, *, root: bool = False) -> tuple[str, ...]:
        """The start of a tmux command line for `exec` in the sandbox (`(*tmux, "list-sessions")`,
        `(*tmux, "capture-pane", ...)`), reaching the server `attach_tmux` uses (run it with
        `user="root"` for root's)."""


# The shell of a terminal (contract §5): $SHELL if set, else bash, else sh.
SHELL_COMMAND = (
    'if [ -n "$SHELL" ] && [ -x "$SHELL" ]; then exec "$SHELL"; '
    "elif command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"
)


def tmux_session_command(tmux: Sequence[str], name: str, *, history_lines: int) -> list[str]:
    """Attaches to tmux session `name`, making it with a shell if needed. The options are the
    server's (-g): every session on it is a terminal of ours, and history-limit must be set
    before the first window exists to count for it. No status bar: the screen is the shell's."""
    return [
        *tmux,
        *("set-option", "-g", "history-limit", str(history_lines), ";"),
        *("set-option", "-g", "status", "off", ";"),
        *("new-session", "-A", "-s", name, SHELL_COMMAND),
    ]


def fd_ready(fd: int, *, writable: bool = False, timeout: float | None = None) -> bool:
    """Whether `fd` can be read (or written) within `timeout` seconds (None: waits). poll, not
    select: select refuses descriptors past 1023, and a server holding hundreds of terminals
    has those."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT if writable else select.POLLIN)
    return bool(poller.poll(None if timeout is None else max(timeout, 0) * 1000))
