"""The docker provider: one container per session, on the engine this server reaches.

The container runs `sleep infinity` under docker's init as the image's non-root user `discobot`
(uid 1000), with the session's working copy bind-mounted at /workspace. Everything the session
does is an exec into it; the shell of the terminal is one too (under tmux, which outlives it).
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import struct
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import anyio
import anyio.to_thread
import docker
from django.conf import settings
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from apps.sandbox.provider import (
    EXEC_OUTPUT_CAP,
    WORKSPACE,
    ExecResult,
    SandboxImageMissing,
    SandboxInfo,
    SandboxSpec,
    SandboxState,
    SandboxUnavailable,
    fd_ready,
    sandbox_instance,
    tmux_session_command,
)
from discobot.errors import ConflictError, NotFoundError

logger = logging.getLogger(__name__)

SANDBOX_USER = "discobot"  # uid 1000 in sandbox/Dockerfile
LABEL_SESSION = "discobot.session"
LABEL_SESSION_ID = "discobot.session-id"
LABEL_PROJECT = "discobot.project"
LABEL_INSTANCE = "discobot.instance"
# Docker's "never" for a start or finish time.
NEVER = "0001-01-01T00:00:00Z"


def image_missing_message() -> str:
    return (
        f"The sandbox image {settings.SANDBOX_IMAGE} is not on this Docker engine: build it "
        "with `bash sandbox/build-image.sh` (no registry needed)"
    )


def docker_time(value: str | None) -> datetime | None:
    """Docker's RFC 3339 times carry nanoseconds, which Python's parser does not take."""
    if not value or value == NEVER:
        return None
    whole, _, rest = value.partition(".")
    fraction = rest.rstrip("Z")[:6] if rest else ""
    for sign in ("+", "-"):  # an offset after the fraction
        if sign in fraction:
            fraction = fraction.split(sign)[0]
    zone = "+00:00" if value.endswith("Z") else value[-6:]
    whole = whole.rstrip("Z")
    return datetime.fromisoformat(f"{whole}.{fraction or '0'}{zone}")


# Capabilities of docker's default set that nothing in a sandbox needs. CHOWN, DAC_OVERRIDE,
# FOWNER, SETUID/SETGID and KILL stay: the root terminal and the ACL grant below use them.
DROPPED_CAPABILITIES = ["NET_RAW", "MKNOD", "AUDIT_WRITE", "SETFCAP", "SYS_CHROOT"]

# How long a terminal's exec may take to start and say its pid.
PID_LINE_TIMEOUT = 30.0

# `timeout` exits 124 when it stopped the command, 137 when it had to kill it.
TIMEOUT_EXIT_CODES = (124, 137)

# A spawned program's stderr kept while nobody reads it; older bytes give way.
STDERR_KEPT = 64 * 1024
# How long a spawned program has to end after SIGTERM before it is killed.
SPAWN_TERM_SECONDS = 2.0

_STATES = {
    "created": SandboxState.CREATED,
    "running": SandboxState.RUNNING,
    "restarting": SandboxState.RUNNING,
    "paused": SandboxState.RUNNING,
    "exited": SandboxState.STOPPED,
    "dead": SandboxState.STOPPED,
    "removing": SandboxState.MISSING,
}


def container_name(spec: SandboxSpec) -> str:
    """`discobot-session-<id>-<uuid prefix>`: readable, and unique although two projects may
    hold sessions with the same client id."""
    readable = re.sub(r"[^a-zA-Z0-9_.-]", "-", spec.session_id)[:40].strip("-.") or "session"
    return f"discobot-session-{readable}-{spec.session_uuid.replace('-', '')[:8]}"


# An exec's connection is kept whole, not only its socket: what `exec_start` returns holds the
# HTTP response the socket was taken over from. Once that is let go, the engine client's
# connection pool may close the socket under the terminal (2-3 of 150 execs started on six
# threads; seen in the terminal bench as a socket closed mid-session, fd -1).


class DockerPty:
    """A terminal on an exec with a TTY: the raw socket docker hands back from `exec_start`.

    The engine does not end an exec whose connection closed: its program would linger (a tmux
    client per reconnect, attached forever). So the program's pid inside the container is
    known, and closing hangs it up, as closing the local provider's PTY does."""

    def __init__(
        self, api: Any, container_id: str, exec_id: str, connection: Any, *, pid: str, user: str
    ) -> None:
        self._api = api
        self._container_id = container_id
        self._exec_id = exec_id
        self._connection = connection  # kept whole: see above DockerPty
        self._sock: socket.socket = connection._sock
        self._pid = pid
        self._user = user

    def read(self, max_bytes: int = 65536, timeout: float | None = None) -> bytes:
        """Output so far; b"" once the program has ended; TimeoutError when nothing came in
        `timeout` seconds."""
        if not fd_ready(self._sock.fileno(), timeout=timeout):
            raise TimeoutError("no terminal output in time")
        try:
            return self._sock.recv(max_bytes)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def write_some(self, data: bytes) -> int:
        if not fd_ready(self._sock.fileno(), writable=True, timeout=0):
            return 0
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0

    def fileno(self) -> int:
        return self._sock.fileno()

    def resize(self, rows: int, cols: int) -> None:
        self._api.exec_resize(self._exec_id, height=rows, width=cols)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already closed by the other side
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with contextlib.suppress(DockerException):  # the container is gone, and the program
            hang_up = self._api.exec_create(
                self._container_id, ["kill", "-HUP", self._pid], user=self._user
            )["Id"]
            self._api.exec_start(hang_up)


class DockerProcess:
    """A program started by an exec with stdin attached and no terminal.

    Without a terminal the engine multiplexes stdout and stderr on one connection in frames
    (an 8-byte header: stream, 3 zero bytes, big-endian length). One reader at a time takes a
    frame and files it under its stream; stdin ends with a half-close of the connection."""

    def __init__(
        self, api: Any, container_id: str, exec_id: str, connection: Any, *, pid: str
    ) -> None:
        self._api = api
        self._container_id = container_id
        self._exec_id = exec_id
        self._connection = connection  # kept whole: see above DockerPty
        self._sock: socket.socket = connection._sock
        self._pid = pid
        self._buffers = {1: bytearray(), 2: bytearray()}
        self._ended = False
        self._closed = False
        self._stdin_open = True
        self._frame_lock = anyio.Lock()
        self._sock.setblocking(False)

    def stdout_prepend(self, data: bytes) -> None:
        self._buffers[1][:0] = data

    async def read(self, max_bytes: int = 65536) -> bytes:
        return await self._read(1, max_bytes)

    async def read_stderr(self, max_bytes: int = 65536) -> bytes:
        return await self._read(2, max_bytes)

    async def _read(self, stream: int, max_bytes: int) -> bytes:
        buffer = self._buffers[stream]
        while not buffer and not self._ended and not self._closed:
            async with self._frame_lock:
                if not buffer:
                    await self._frame_take()
        taken = bytes(buffer[:max_bytes])
        del buffer[:max_bytes]
        return taken

    async def _frame_take(self) -> None:
        header = await self._receive_exactly(8)
        if len(header) < 8:
            self._ended = True
            return
        stream, size = header[0], struct.unpack(">I", header[4:])[0]
        payload = await self._receive_exactly(size)
        buffer = self._buffers.get(stream)
        if buffer is None:  # stdin (0) never comes back; nothing else is defined
            return
        buffer.extend(payload)
        if stream == 2 and len(buffer) > STDERR_KEPT:
            del buffer[: len(buffer) - STDERR_KEPT]
        if len(payload) < size:
            self._ended = True

    async def _receive_exactly(self, size: int) -> bytes:
        received = bytearray()
        while len(received) < size and not self._closed:
            try:
                chunk = self._sock.recv(size - len(received))
            except BlockingIOError:
                await anyio.wait_readable(self._sock)
                continue
            except OSError:
                break
            if not chunk:
                break
            received.extend(chunk)
        return bytes(received)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if not self._stdin_open or self._closed:
                raise BrokenPipeError("The program's input is closed")
            try:
                view = view[self._sock.send(view) :]
            except BlockingIOError:
                await anyio.wait_writable(self._sock)

    async def close_stdin(self) -> None:
        if self._stdin_open and not self._closed:
            self._stdin_open = False
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_WR)

    async def wait(self) -> int:
        while True:
            inspected = await anyio.to_thread.run_sync(self._api.exec_inspect, self._exec_id)
            if not inspected["Running"] and inspected["ExitCode"] is not None:
                return int(inspected["ExitCode"])
            await anyio.sleep(0.05)

    async def close(self) -> None:
        """The engine does not end an exec whose connection closed: the program is signalled."""
        if self._closed:
            return
        with anyio.CancelScope(shield=True):
            await self.close_stdin()
            await anyio.to_thread.run_sync(self._signal, "TERM")
            with anyio.move_on_after(SPAWN_TERM_SECONDS):
                await self.wait()
            await anyio.to_thread.run_sync(self._signal, "KILL")
            self._closed = True
            anyio.notify_closing(self._sock)
            self._sock.close()

    def _signal(self, name: str) -> None:
        with contextlib.suppress(DockerException):  # the container is gone, and the program
            if self._api.exec_inspect(self._exec_id)["Running"]:
                signal = self._api.exec_create(
                    self._container_id, ["kill", f"-{name}", self._pid], user=SANDBOX_USER
                )["Id"]
                self._api.exec_start(signal)


class DockerProvider:
    name = "docker"

    def __init__(self, *, base_url: str | None = None) -> None:
        # Exec streams stay open as long as their command runs: the commands bound themselves
        # (`timeout`), so the HTTP timeout only catches an engine that stopped answering.
        # None: the DOCKER_HOST setting, else the SDK's default (its variable, the local socket).
        self._base_url = base_url or settings.DOCKER_HOST or None
        try:
            self._client = self._connect(timeout=3600)
        except DockerException as error:  # the SDK asks the engine its API version at once
            raise SandboxUnavailable(f"No Docker engine answers: {error}") from None
        self._api = self._client.api

    # --- lifecycle ---------------------------------------------------------------------------

    def available(self) -> bool:
        try:
            self.check()
        except (SandboxUnavailable, SandboxImageMissing):
            return False
        return True

    def check(self) -> None:
        try:
            probe = self._connect(timeout=3)
        except (DockerException, OSError) as error:
            raise SandboxUnavailable(f"No Docker engine answers: {error}") from None
        try:
            probe.ping()
            probe.images.get(settings.SANDBOX_IMAGE)
        except ImageNotFound:
            raise SandboxImageMissing(image_missing_message()) from None
        except (DockerException, OSError) as error:
            raise SandboxUnavailable(f"No Docker engine answers: {error}") from None
        finally:
            probe.close()

    def create(self, spec: SandboxSpec) -> SandboxInfo:
        existing = self._container(spec.session_uuid)
        if existing is not None:
            return self._info(spec.session_uuid, existing)
        try:
            container = self._client.containers.create(
                settings.SANDBOX_IMAGE,
                command=["sleep", "infinity"],
                name=container_name(spec),
                labels={
                    LABEL_SESSION: spec.session_uuid,
                    LABEL_SESSION_ID: spec.session_id,
                    LABEL_PROJECT: spec.project_id,
                    LABEL_INSTANCE: sandbox_instance(),
                },
                environment=dict(spec.env),
                user=SANDBOX_USER,
                working_dir=WORKSPACE,
                volumes={str(spec.working_copy): {"bind": WORKSPACE, "mode": "rw"}},
                init=True,
                nano_cpus=int(settings.SANDBOX_CPUS * 1e9),
                mem_limit=settings.SANDBOX_MEMORY,
                pids_limit=settings.SANDBOX_PIDS_LIMIT,
                network_mode=settings.SANDBOX_NETWORK,
                cap_drop=DROPPED_CAPABILITIES,
                # Tightens (never loosens) docker's default seccomp profile, which stays on.
                security_opt=["no-new-privileges"],
            )
        except ImageNotFound:
            raise SandboxImageMissing(image_missing_message()) from None
        except APIError as error:
            if error.status_code != 409:  # 409: a concurrent create of the same session won
                raise
            container = self._container(spec.session_uuid)
            if container is None:
                raise
        return self._info(spec.session_uuid, container)

    def start(self, session_uuid: str) -> SandboxInfo:
        container = self._require(session_uuid)
        if container.status != "running":
            container.start()
            self._grant_workspace(container)
            container.reload()
        return self._info(session_uuid, container)

    def stop(self, session_uuid: str) -> SandboxInfo:
        container = self._container(session_uuid)
        if container is None:
            return SandboxInfo(session_uuid=session_uuid, state=SandboxState.MISSING)
        if container.status == "running":
            container.stop(timeout=5)
            container.reload()
        return self._info(session_uuid, container)

    def remove(self, session_uuid: str) -> None:
        container = self._container(session_uuid)
        if container is None:
            return
        with contextlib.suppress(NotFound):  # removed meanwhile: what was asked for
            container.remove(force=True)

    def status(self, session_uuid: str) -> SandboxInfo:
        container = self._container(session_uuid)
        if container is None:
            return SandboxInfo(session_uuid=session_uuid, state=SandboxState.MISSING)
        return self._info(session_uuid, container)

    def list(self) -> list[SandboxInfo]:
        # ignore_removed: a container removed between the engine's list and its inspect is gone.
        mine = [LABEL_SESSION, f"{LABEL_INSTANCE}={sandbox_instance()}"]
        containers = self._client.containers.list(
            all=True, filters={"label": mine}, ignore_removed=True
        )
        return [self._info(c.labels[LABEL_SESSION], c) for c in containers]

    def port_address(self, session_uuid: str, port: int) -> tuple[str, int]:
        # The container's own address on its network (no port is published on the host):
        # the default bridge's, else the first user-defined network's.
        network = self._require_running(session_uuid).attrs.get("NetworkSettings") or {}
        addresses = [network.get("IPAddress")]
        addresses += [each.get("IPAddress") for each in (network.get("Networks") or {}).values()]
        address = next((found for found in addresses if found), None)
        if address is None:
            raise ConflictError("The sandbox has no network address (SANDBOX_NETWORK=none?)")
        return (address, port)

    # --- processes ---------------------------------------------------------------------------

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
        container = self._require_running(session_uuid)
        exec_id = self._api.exec_create(
            container.id,
            ["timeout", "--kill-after=2", f"{timeout:g}", *command],
            stdout=True,
            stderr=True,
            workdir=cwd,
            environment=dict(env or {}),
            user=user or SANDBOX_USER,
        )["Id"]
        started = time.monotonic()
        stdout, stderr = bytearray(), bytearray()
        truncated = False
        # Past the cap the rest is read and dropped, so the command is never stuck on a full
        # pipe: it ends by itself or by `timeout`.
        for out, err in self._api.exec_start(exec_id, stream=True, demux=True):
            for chunk, buffer in ((out, stdout), (err, stderr)):
                if not chunk:
                    continue
                room = output_cap - len(stdout) - len(stderr)
                if len(chunk) > room:
                    truncated = True
                buffer.extend(chunk[: max(room, 0)])
        exit_code = self._exit_code(exec_id)
        timed_out = exit_code in TIMEOUT_EXIT_CODES and time.monotonic() - started >= timeout
        return ExecResult(
            exit_code=exit_code,
            stdout=bytes(stdout),
            stderr=bytes(stderr),
            timed_out=timed_out,
            truncated=truncated,
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
    ) -> DockerPty:
        container = self._require_running(session_uuid)
        # The size is set before the program starts: a resize after `exec_start` would race
        # with the program reading it (tmux, a prompt) at its start. The wrapper then says its
        # pid (which the program inherits with `exec`) and waits for a line, so that nothing of
        # the program's output is mixed with the pid; echo is off meanwhile.
        sized = [
            "sh",
            "-c",
            'stty rows "$1" cols "$2" -echo; echo "$$"; read -r _; stty echo; shift 2; exec "$@"',
            "sh",
            str(rows),
            str(cols),
            *command,
        ]
        user = "root" if root else SANDBOX_USER
        exec_id = self._api.exec_create(
            container.id,
            sized,
            stdin=True,
            tty=True,
            workdir=WORKSPACE,
            environment={"TERM": "xterm-256color", **(env or {})},
            user=user,
        )["Id"]
        connection = self._api.exec_start(exec_id, tty=True, socket=True)
        sock = connection._sock
        try:
            pid = pid_line_read(sock)
            sock.sendall(b"\n")
        except BaseException:
            sock.close()
            raise
        return DockerPty(self._api, container.id, exec_id, connection, pid=pid, user=user)

    def spawn(
        self,
        session_uuid: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str = WORKSPACE,
    ) -> DockerProcess:
        container = self._require_running(session_uuid)
        # The wrapper says its pid (the program's, after `exec`) on stdout first, so that close
        # can signal it.
        wrapped = ["sh", "-c", 'echo "$$"; exec "$@"', "sh", *command]
        exec_id = self._api.exec_create(
            container.id,
            wrapped,
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            workdir=cwd,
            environment=dict(env or {}),
            user=SANDBOX_USER,
        )["Id"]
        connection = self._api.exec_start(exec_id, socket=True)
        sock = connection._sock
        try:
            pid, first_output = spawned_pid_read(sock)
        except BaseException:
            sock.close()
            raise
        process = DockerProcess(self._api, container.id, exec_id, connection, pid=pid)
        process.stdout_prepend(first_output)
        return process

    def attach_tmux(
        self, session_uuid: str, name: str, *, rows: int, cols: int, root: bool = False
    ) -> DockerPty:
        """Root's tmux server is not the sandbox user's (each user has its own socket under
        /tmp/tmux-<uid>), so root's sessions are apart by construction."""
        command = tmux_session_command(
            self.tmux_command(session_uuid, root=root),
            name,
            history_lines=settings.TERMINAL_SCROLLBACK_LINES,
        )
        return self.attach_pty(session_uuid, command, rows=rows, cols=cols, root=root)

    def tmux_command(self, session_uuid: str, *, root: bool = False) -> tuple[str, ...]:
        return ("tmux",)

    # --- helpers -----------------------------------------------------------------------------

    def _connect(self, *, timeout: int) -> Any:
        if self._base_url:
            return docker.DockerClient(base_url=self._base_url, timeout=timeout)
        return docker.from_env(timeout=timeout)

    def _container(self, session_uuid: str) -> Any | None:
        """The session's container, or None: also when it was removed outside the app."""
        found = self._client.containers.list(
            all=True, filters={"label": f"{LABEL_SESSION}={session_uuid}"}, ignore_removed=True
        )
        return found[0] if found else None

    def _require(self, session_uuid: str) -> Any:
        container = self._container(session_uuid)
        if container is None:
            raise NotFoundError("Sandbox not found")
        return container

    def _require_running(self, session_uuid: str) -> Any:
        container = self._require(session_uuid)
        if container.status != "running":
            raise ConflictError("The sandbox is not running")
        return container

    def _info(self, session_uuid: str, container: Any) -> SandboxInfo:
        state = _STATES.get(container.status, SandboxState.STOPPED)
        inspected = container.attrs
        running = inspected.get("State", {})
        return SandboxInfo(
            session_uuid=session_uuid,
            state=state,
            name=container.name,
            image=inspected.get("Config", {}).get("Image", ""),
            created_at=docker_time(inspected.get("Created")),
            started_at=docker_time(running.get("StartedAt")),
            stopped_at=docker_time(running.get("FinishedAt"))
            if state == SandboxState.STOPPED
            else None,
            error=running.get("Error", ""),
        )

    def _exit_code(self, exec_id: str) -> int:
        # The stream can end a moment before the engine records the exit code.
        for _ in range(50):
            inspected = self._api.exec_inspect(exec_id)
            if not inspected["Running"] and inspected["ExitCode"] is not None:
                return int(inspected["ExitCode"])
            time.sleep(0.05)
        raise RuntimeError("the engine did not report the exit code")

    def _grant_workspace(self, container: Any) -> None:
        """Lets the sandbox user write the working copy without changing its owner.

        The server writes working copies as its own user (root here), and git (pygit2 too)
        refuses a repository owned by someone else, so a chown would break the server's side.
        An ACL for uid 1000, inherited by new files, gives the sandbox user write access and
        keeps the owner; the image trusts /workspace as a git safe.directory for the same reason.
        """
        exit_code, output = container.exec_run(
            ["setfacl", "-R", "-m", "u:1000:rwX,d:u:1000:rwX", WORKSPACE], user="root"
        )
        if exit_code != 0:
            logger.warning(
                "sandbox %s: the working copy stays read-only to its user: %s",
                container.name,
                output.decode(errors="replace").strip(),
            )


def pid_line_read(sock: socket.socket) -> str:
    """The first line of an exec's terminal: its pid (the terminal ends lines with \r\n)."""
    line = b""
    deadline = time.monotonic() + PID_LINE_TIMEOUT
    while not line.endswith(b"\n"):
        ready = fd_ready(sock.fileno(), timeout=deadline - time.monotonic())
        # One byte at a time: nothing past the line may be taken from the program's output.
        byte = sock.recv(1) if ready else b""
        if not byte:
            raise ConflictError("The terminal did not start in the sandbox")
        line += byte
    pid = line.strip().decode("ascii", errors="replace")
    if not pid.isdigit():
        raise ConflictError(f"The terminal did not start in the sandbox: {pid[:200]}")
    return pid


def spawned_pid_read(sock: socket.socket) -> tuple[str, bytes]:
    """The wrapper's pid line, from its first stdout frame, and what followed it in that frame
    (the program's first output, when the engine read both at once); stderr frames (the
    shell's own complaints) are skipped."""
    deadline = time.monotonic() + PID_LINE_TIMEOUT

    def exactly(size: int) -> bytes:
        received = b""
        while len(received) < size:
            ready = fd_ready(sock.fileno(), timeout=deadline - time.monotonic())
            chunk = sock.recv(size - len(received)) if ready else b""
            if not chunk:
                raise ConflictError("The program did not start in the sandbox")
            received += chunk
        return received

    while True:
        header = exactly(8)
        payload = exactly(struct.unpack(">I", header[4:])[0])
        if header[0] == 1:
            break
    line, _, rest = payload.partition(b"\n")
    pid = line.strip().decode("ascii", errors="replace")
    if not pid.isdigit():
        raise ConflictError(f"The program did not start in the sandbox: {pid[:200]}")
    return pid, rest


def engine_time(stamp: str | None) -> datetime | None:
    """Docker's RFC 3339 times have nanoseconds, and "0001-01-01T00:00:00Z" means never."""
    if not stamp or stamp.startswith("0001-"):
        return None
    seconds, _, rest = stamp.partition(".")
    zone = rest.lstrip("0123456789") if rest else stamp[len(seconds) :]
    fraction = rest[: len(rest) - len(zone)][:6] if rest else ""
    text = seconds + (f".{fraction}" if fraction else "") + zone
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
