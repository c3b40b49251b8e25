"""The local provider: a session's processes run on the server itself, in its working copy.

There is no isolation: commands run as the server's own user (`user="root"` and `root=True`
too), and can reach whatever that user can. What they do not inherit is the server's
environment: a command sees PATH, HOME, LANG and TERM, the sandbox's env and its own, never
ENCRYPTION_KEY or DATABASE_URL. The sandboxes' states live in small files under
DATA_DIR/sandboxes so that status and list survive a restart of the server.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
from django.conf import settings
from django.utils import timezone

from apps.sandbox.provider import (
    EXEC_OUTPUT_CAP,
    WORKSPACE,
    ExecResult,
    SandboxInfo,
    SandboxSpec,
    SandboxState,
    fd_ready,
    tmux_session_command,
)
from discobot.errors import ApplicationError, ConflictError, NotFoundError

PROCESS_EXIT_WAIT_SECONDS = 2.0
SETSID = shutil.which("setsid") or "/usr/bin/setsid"
PIPE_CHUNK = 65536


def registry_dir() -> Path:
    return Path(settings.DATA_DIR) / "sandboxes"


def tmux_socket(session_uuid: str) -> Path:
    """The session's own tmux server. Hashed and short: a Unix socket path must fit in 108
    bytes, and DATA_DIR can be deep."""
    name = hashlib.sha256(session_uuid.encode()).hexdigest()[:16]
    return Path(settings.DATA_DIR) / "tmux" / f"{name}.sock"


class LocalPty:
    """A program on a pseudo-terminal of this server; closing it hangs the terminal up.

    The master end is non-blocking, so that `write_some` and a read after the descriptor
    polled readable never stall an event loop."""

    def __init__(self, process: subprocess.Popen[bytes], master: int) -> None:
        self.process = process
        self.master = master
        os.set_blocking(master, False)

    def read(self, max_bytes: int = 65536, timeout: float | None = None) -> bytes:
        if not fd_ready(self.master, timeout=timeout):
            raise TimeoutError("No output from the terminal in time")
        try:
            return os.read(self.master, max_bytes)
        except BlockingIOError:
            raise TimeoutError("No output from the terminal in time") from None
        except OSError as error:
            # Linux answers EIO on the master once every holder of the other end is gone.
            if error.errno == errno.EIO:
                return b""
            raise

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            fd_ready(self.master, writable=True)
            view = view[self.write_some(view) :]

    def write_some(self, data: bytes | memoryview) -> int:
        try:
            return os.write(self.master, data)
        except BlockingIOError:
            return 0

    def fileno(self) -> int:
        return self.master

    def resize(self, rows: int, cols: int) -> None:
        terminal_size_set(self.master, rows, cols)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.master)
        try:
            self.process.wait(timeout=PROCESS_EXIT_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process_group_kill(self.process)


class LocalProcess:
    """A program of the sandbox on pipes of this server, in its own process group (which goes
    with it on close). The pipes are non-blocking: the event loop waits on them."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin and process.stdout and process.stderr  # noqa: S101 - made with PIPE
        self.process = process
        self._stdin: int | None = process.stdin.fileno()
        self._stdout = process.stdout.fileno()
        self._stderr = process.stderr.fileno()
        for fd in (self._stdin, self._stdout, self._stderr):
            os.set_blocking(fd, False)
        self._closed = False

    async def read(self, max_bytes: int = PIPE_CHUNK) -> bytes:
        return await self._read(self._stdout, max_bytes)

    async def read_stderr(self, max_bytes: int = PIPE_CHUNK) -> bytes:
        return await self._read(self._stderr, max_bytes)

    async def _read(self, fd: int, max_bytes: int) -> bytes:
        while not self._closed:
            try:
                return os.read(fd, max_bytes)
            except BlockingIOError:
                await anyio.wait_readable(fd)
        return b""

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._stdin is None or self._closed:
                raise BrokenPipeError("The program's input is closed")
            try:
                view = view[os.write(self._stdin, view) :]
            except BlockingIOError:
                await anyio.wait_writable(self._stdin)

    async def close_stdin(self) -> None:
        if self._stdin is not None:
            assert self.process.stdin  # noqa: S101 - made with PIPE
            anyio.notify_closing(self._stdin)
            self.process.stdin.close()
            self._stdin = None

    async def wait(self) -> int:
        return await anyio.to_thread.run_sync(self.process.wait, abandon_on_cancel=True)

    async def close(self) -> None:
        if self._closed:
            return
        with anyio.CancelScope(shield=True):
            await self.close_stdin()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with anyio.move_on_after(PROCESS_EXIT_WAIT_SECONDS):
                await self.wait()
            if self.process.poll() is None:
                await anyio.to_thread.run_sync(process_group_kill, self.process)
            self._closed = True
            for stream in (self.process.stdout, self.process.stderr):
                assert stream  # noqa: S101 - made with PIPE
                anyio.notify_closing(stream.fileno())
                stream.close()


def terminal_size_set(fd: int, rows: int, cols: int) -> None:
    # The kernel sends SIGWINCH to the terminal's foreground process group.
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def process_group_kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


class LocalProvider:
    name = "local"

    def available(self) -> bool:
        return True

    def check(self) -> None:
        return None

    # --- Lifecycle ------------------------------------------------------------------------------

    def create(self, spec: SandboxSpec) -> SandboxInfo:
        record = self._record(spec.session_uuid)
        if record is not None:
            return self._info(record)
        record = {
            "session_uuid": spec.session_uuid,
            "session_id": spec.session_id,
            "project_id": spec.project_id,
            "working_copy": str(spec.working_copy),
            "env": dict(spec.env),
            "state": SandboxState.CREATED.value,
            "created_at": timezone.now().isoformat(),
        }
        self._save(record)
        return self._info(record)

    def start(self, session_uuid: str) -> SandboxInfo:
        return self._state_set(session_uuid, SandboxState.RUNNING)

    def stop(self, session_uuid: str) -> SandboxInfo:
        info = self._state_set(session_uuid, SandboxState.STOPPED)
        self._tmux_end(session_uuid)
        return info

    def remove(self, session_uuid: str) -> None:
        self._tmux_end(session_uuid)
        self._path(session_uuid).unlink(missing_ok=True)

    def status(self, session_uuid: str) -> SandboxInfo:
        record = self._record(session_uuid)
        if record is None:
            return SandboxInfo(session_uuid=session_uuid, state=SandboxState.MISSING)
        return self._info(record)

    def list(self) -> list[SandboxInfo]:
        infos = []
        for path in sorted(registry_dir().glob("*.json")):
            record = self._record(path.stem)
            if record is not None:
                infos.append(self._info(record))
        return infos

    # --- Processes ------------------------------------------------------------------------------

    def port_address(self, session_uuid: str, port: int) -> tuple[str, int]:
        self._running(session_uuid)
        return ("127.0.0.1", port)  # its processes are this server's

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
        """`output_cap` bounds stdout and stderr each; the rest is read and dropped, so the
        command is never blocked on a full pipe."""
        record = self._running(session_uuid)
        process = subprocess.Popen(  # noqa: S603 - the sandbox runs what its session asks
            list(command),
            cwd=self._host_path(record, cwd),
            env=self._environment(record, env, term="dumb"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # one process group to kill on timeout
        )
        stdout, stderr = bytearray(), bytearray()
        readers = [
            threading.Thread(target=capped_read, args=(stream, into, output_cap))
            for stream, into in ((process.stdout, stdout), (process.stderr, stderr))
        ]
        for reader in readers:
            reader.start()
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            process_group_kill(process)
        else:
            # Children that outlive the command keep the pipes open: they go with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for reader in readers:
            reader.join()
        return ExecResult(
            exit_code=process.returncode,
            stdout=bytes(stdout[:output_cap]),
            stderr=bytes(stderr[:output_cap]),
            timed_out=timed_out,
            truncated=len(stdout) > output_cap or len(stderr) > output_cap,
        )

    def attach_pty(
        self,
        session_uuid: str,
        command: Sequence[str],
        *,
        rows: int,
        cols: int,
        root: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> LocalPty:
        record = self._running(session_uuid)
        master, child_end = os.openpty()
        try:
            terminal_size_set(child_end, rows, cols)
            # util-linux's `setsid --ctty` makes the program a session leader whose controlling
            # terminal is the PTY, so resizes and ^C reach it. Not a `preexec_fn`: Python code
            # run between fork and exec can deadlock in a threaded server (seen here: one
            # terminal in a few hundred never started).
            process = subprocess.Popen(  # noqa: S603 - the sandbox runs what its session asks
                [SETSID, "--ctty", *command],
                cwd=self._host_path(record, WORKSPACE),
                env=self._environment(record, env, term="xterm-256color"),
                stdin=child_end,
                stdout=child_end,
                stderr=child_end,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(child_end)
        return LocalPty(process, master)

    def spawn(
        self,
        session_uuid: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str = WORKSPACE,
    ) -> LocalProcess:
        record = self._running(session_uuid)
        process = subprocess.Popen(  # noqa: S603 - the sandbox runs what its session asks
            list(command),
            cwd=self._host_path(record, cwd),
            env=self._environment(record, env, term="dumb"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # one process group to end on close
        )
        return LocalProcess(process)

    def attach_tmux(
        self, session_uuid: str, name: str, *, rows: int, cols: int, root: bool = False
    ) -> LocalPty:
        """`root` changes nothing here (everything runs as the server's user); the caller
        names root's tmux session apart."""
        tmux = self.tmux_command(session_uuid)
        tmux_socket(session_uuid).parent.mkdir(parents=True, exist_ok=True)
        command = tmux_session_command(tmux, name, history_lines=settings.TERMINAL_SCROLLBACK_LINES)
        return self.attach_pty(session_uuid, command, rows=rows, cols=cols)

    def tmux_command(self, session_uuid: str, *, root: bool = False) -> tuple[str, ...]:
        # tmux from PATH, in the clean environment of the sandbox's processes.
        return ("tmux", "-S", str(tmux_socket(session_uuid)))

    # --- Inside -------------------------------------------------------------------------------

    def _environment(
        self, record: dict[str, Any], env: Mapping[str, str] | None, *, term: str
    ) -> dict[str, str]:
        clean = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TERM": term,
        }
        return {**clean, **record["env"], **(env or {})}

    def _host_path(self, record: dict[str, Any], cwd: str) -> Path:
        """`/workspace` inside the sandbox is the working copy; a relative path starts there."""
        root = Path(os.path.realpath(record["working_copy"]))
        inside = Path(WORKSPACE, cwd)
        if not inside.is_relative_to(WORKSPACE):
            raise ApplicationError(f"The directory {cwd!r} is outside {WORKSPACE}")
        host = Path(os.path.realpath(root / inside.relative_to(WORKSPACE)))
        if not host.is_relative_to(root):
            raise ApplicationError(f"The directory {cwd!r} is outside {WORKSPACE}")
        return host

    def _running(self, session_uuid: str) -> dict[str, Any]:
        record = self._record(session_uuid)
        if record is None:
            raise NotFoundError("Sandbox not found")
        if record["state"] != SandboxState.RUNNING:
            raise ConflictError("The sandbox is not running")
        return record

    def _tmux_end(self, session_uuid: str) -> None:
        socket = tmux_socket(session_uuid)
        if socket.exists():
            kill = [*self.tmux_command(session_uuid), "kill-server"]
            subprocess.run(kill, capture_output=True, check=False)  # noqa: S603
            socket.unlink(missing_ok=True)

    def _state_set(self, session_uuid: str, state: SandboxState) -> SandboxInfo:
        record = self._record(session_uuid)
        if record is None:
            raise NotFoundError("Sandbox not found")
        if record["state"] != state.value:
            moment = "started_at" if state == SandboxState.RUNNING else "stopped_at"
            record[moment] = timezone.now().isoformat()
        record["state"] = state.value
        self._save(record)
        return self._info(record)

    def _info(self, record: dict[str, Any]) -> SandboxInfo:
        stopped = record["state"] == SandboxState.STOPPED
        return SandboxInfo(
            session_uuid=record["session_uuid"],
            state=SandboxState(record["state"]),
            name=f"local-{record['session_id']}",
            image="local",
            created_at=recorded_time(record, "created_at"),
            started_at=recorded_time(record, "started_at"),
            stopped_at=recorded_time(record, "stopped_at") if stopped else None,
        )

    def _path(self, session_uuid: str) -> Path:
        if not session_uuid or "/" in session_uuid or session_uuid.startswith("."):
            raise ApplicationError("Invalid sandbox id")
        return registry_dir() / f"{session_uuid}.json"

    def _record(self, session_uuid: str) -> dict[str, Any] | None:
        try:
            record: dict[str, Any] = json.loads(self._path(session_uuid).read_text())
        except FileNotFoundError:
            return None
        return record

    def _save(self, record: dict[str, Any]) -> None:
        path = self._path(record["session_uuid"])
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a file.
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        partial.write_text(json.dumps(record))
        os.replace(partial, path)


def recorded_time(record: dict[str, Any], key: str) -> datetime | None:
    """A time kept in the record (absent in records written before times were kept)."""
    value = record.get(key)
    return datetime.fromisoformat(value) if value else None


def capped_read(stream: IO[bytes], into: bytearray, cap: int) -> None:
    """Keeps one byte past the cap (so the caller knows it was passed) and drops the rest."""
    with stream:
        for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
            room = cap + 1 - len(into)
            if room > 0:
                into += chunk[:room]
