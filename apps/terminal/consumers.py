"""The terminal WebSocket (contract §5, web-app.md "Terminal"): a tmux client on the shell of the
caller's tmux session in the session's sandbox.

Every WebSocket attaches a tmux client of its own, so a reconnect gets the screen redrawn by tmux
(the alternate screen of vim or less included), several tabs share one shell, and the shell
outlives the browser and this server process. The consumer is plain asyncio over the ASGI
`send`: the PTY is waited on with `loop.add_reader`, not a thread per terminal.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

from apps.accounts.callers import caller_tokens
from apps.accounts.websockets import handshake_request
from apps.core.streams import off_loop
from apps.projects.consumers import CLOSE_NOT_FOUND, ProjectScopedConsumer
from apps.sandbox.provider import PtyConnection
from apps.terminal.services import transcript_capture, transcript_tokens_add
from apps.workspaces.models import SandboxUse, SandboxUseKind, Session, SessionActionKind
from apps.workspaces.sandboxes import (
    sandbox_use_begin,
    sandbox_use_end,
    sandbox_use_renew,
    session_sandbox_provider,
)
from apps.workspaces.selectors import session_get
from apps.workspaces.services import session_action_record
from discobot.clients import client_address
from discobot.errors import ApplicationError, NotFoundError

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_ROWS, DEFAULT_COLS = 24, 80
MAX_SIZE = 1000
# Output read from the PTY goes out in frames of at most this much; nothing more is read while
# a frame is being sent, so a client that reads slowly holds back the PTY (then tmux), never
# this process's memory.
OUTPUT_CHUNK = 64 * 1024
# Keystrokes the shell has not taken yet; past this the input is refused, not queued.
INPUT_PENDING_MAX = 1024 * 1024
# A failure that is no rule of the product (the engine broke, a bug): 1011 "internal error".
CLOSE_INTERNAL_ERROR = 1011


def terminal_size(query: dict[str, list[str]]) -> tuple[int, int]:
    """`rows` and `cols` of the query: a missing or non-numeric value is the default (24x80),
    a number is kept within 1..1000. xterm.js can measure odd sizes while its element is
    hidden; a terminal that opens at a sane size is better than a refusal."""
    return (
        size_value(query.get("rows", [""])[-1], DEFAULT_ROWS),
        size_value(query.get("cols", [""])[-1], DEFAULT_COLS),
    )


def size_value(text: Any, default: int) -> int:
    if isinstance(text, bool):
        return default
    try:
        value = int(text)
    except (TypeError, ValueError):
        return default
    return min(max(value, 1), MAX_SIZE)


def tmux_session_name(user_id: object, *, root: bool) -> str:
    """One tmux session per (sandbox, user), and one apart for the user's root shell."""
    return f"user-{user_id}" + ("-root" if root else "")


class TerminalConsumer(ProjectScopedConsumer):
    """`/api/projects/{pid}/sessions/{sid}/terminal/ws?rows&cols&root`.

    Frames (all JSON text): client `{"type": "input", "data": str}` and
    `{"type": "resize", "data": {"rows", "cols"}}`; server `{"type": "output", "data": str}` and
    `{"type": "error", "data": str}`. The connection closes with 1000 when the shell ends.
    """

    terminal: PtyConnection | None = None
    use: SandboxUse | None = None
    session: Session | None = None
    tasks: list[asyncio.Task[None]]
    pending_input: bytearray
    writing: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Also for a refused handshake, whose disconnect runs without connect.
        self.tasks = []
        self.attaching: asyncio.Task[None] | None = None
        self.pending_input = bytearray()
        self.pending_size: tuple[int, int] | None = None
        self.writing = False

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        rows, cols = terminal_size(query)
        root = query.get("root", [""])[-1].lower() in ("true", "1")
        try:
            session = await database_sync_to_async(session_get)(
                project=self.project, session_id=self.scope["url_route"]["kwargs"]["session_id"]
            )
        except NotFoundError as missing:
            await self.accept()
            await self.close(code=CLOSE_NOT_FOUND, reason=missing.message)
            return
        await self.accept()
        # The attach runs beside the connection, not inside this handler: the server reads
        # nothing more from a WebSocket (its pongs included) until the handler of the last
        # message returns, and a sandbox that starts slowly (a container, an engine under
        # load) had clients that typed meanwhile cut off at the ping timeout (1011).
        self.attaching = asyncio.create_task(self.attach(session, rows=rows, cols=cols, root=root))

    async def attach(self, session: Session, *, rows: int, cols: int, root: bool) -> None:
        """Starts the sandbox if needed and attaches its tmux session; then sends its output and
        what was typed meanwhile."""
        try:
            # The hold first, then the start (inside sandbox_use_begin): the idle stop cannot
            # stop the sandbox between the two. Starting a container takes a while: its own
            # thread, not Django's shared one.
            self.use = await in_thread(
                sandbox_use_begin,
                session=session,
                kind=SandboxUseKind.TERMINAL,
                user=self.scope["user"],
            )
            provider = await in_thread(session_sandbox_provider, session)
            self.terminal = await in_thread(
                provider.attach_tmux,
                str(session.uuid),
                tmux_session_name(self.scope["user"].pk, root=root),
                rows=rows,
                cols=cols,
                root=root,
            )
        except ApplicationError as refusal:
            await self.fail(refusal.message, code=4000 + refusal.status_code)
            return
        except Exception:
            logger.exception("terminal of session %s: the sandbox did not start", session.pk)
            await self.fail("failed to start sandbox", code=CLOSE_INTERNAL_ERROR)
            return
        self.session = session
        await self.record(session, SessionActionKind.TERMINAL_ATTACH)
        await self.remember_tokens(session)
        self.tasks = [
            asyncio.create_task(self.pump_output(self.terminal)),
            asyncio.create_task(self.hold_sandbox(self.use)),
            asyncio.create_task(self.record_history(session)),
        ]
        if self.pending_size is not None:
            await in_thread(self.terminal.resize, *self.pending_size)
        self.flush_input()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.attaching is None:
            return  # refused
        try:
            frame = json.loads(text_data or "")
        except json.JSONDecodeError:
            await self.send_frame("error", "Frames are JSON text")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        data = frame.get("data") if isinstance(frame, dict) else None
        if kind == "input" and isinstance(data, str):
            await self.type_in(data.encode("utf-8", errors="replace"))
        elif kind == "resize" and isinstance(data, dict):
            rows = size_value(data.get("rows"), 0)
            cols = size_value(data.get("cols"), 0)
            terminal = self.terminal
            if not (rows and cols):
                await self.send_frame("error", "A resize needs numbers rows and cols")
            elif terminal is None:
                self.pending_size = (rows, cols)  # applied once attached
            else:
                await in_thread(terminal.resize, rows, cols)
        else:
            await self.send_frame("error", 'Frames are {"type": "input"|"resize", "data": ...}')

    async def disconnect(self, code: int) -> None:
        if self.attaching is not None:
            # Not cancelled: the PTY its thread may still be opening would be left attached.
            with contextlib.suppress(Exception):
                await self.attaching
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        terminal, self.terminal = self.terminal, None
        if terminal is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(terminal.fileno())
            loop.remove_writer(terminal.fileno())
            # Detaches this tmux client; the shell keeps running.
            await in_thread(terminal.close)
        session, self.session = self.session, None
        if session is not None:
            await self.record(session, SessionActionKind.TERMINAL_DETACH)
            await self.capture(session)
        use, self.use = self.use, None
        if use is not None:
            await database_sync_to_async(sandbox_use_end)(use)

    # --- the PTY --------------------------------------------------------------------------------

    async def pump_output(self, terminal: PtyConnection) -> None:
        """PTY → WebSocket, one frame at a time; the end of the tmux client closes cleanly."""
        # A character split across two reads comes out whole.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            await readable(terminal)
            chunk = output_available(terminal)
            if not chunk:
                break
            text = decoder.decode(chunk)
            if text:
                await self.send_frame("output", text)
        tail = decoder.decode(b"", final=True)
        if tail:
            await self.send_frame("output", tail)
        await self.close()

    async def type_in(self, data: bytes) -> None:
        """Queues keystrokes and writes what the PTY takes; the rest waits for the PTY to be
        writable (loop.add_writer), so a shell that does not read never blocks the loop."""
        if len(self.pending_input) + len(data) > INPUT_PENDING_MAX:
            await self.send_frame("error", "The terminal is not taking input; input dropped")
            return
        self.pending_input += data
        self.flush_input()

    def flush_input(self) -> None:
        terminal = self.terminal
        if terminal is None:
            return
        try:
            written = terminal.write_some(bytes(self.pending_input)) if self.pending_input else 0
        except OSError:
            written = len(self.pending_input)  # the terminal is gone; pump_output ends it
        del self.pending_input[:written]
        loop = asyncio.get_running_loop()
        if self.pending_input and not self.writing:
            loop.add_writer(terminal.fileno(), self.flush_input)
            self.writing = True
        elif not self.pending_input and self.writing:
            loop.remove_writer(terminal.fileno())
            self.writing = False

    async def hold_sandbox(self, use: SandboxUse) -> None:
        """Keeps the sandbox awake while attached (the idle stop counts expired uses out)."""
        while True:
            await asyncio.sleep(settings.SANDBOX_USE_LEASE_SECONDS / 3)
            try:
                await database_sync_to_async(sandbox_use_renew)(use)
            except Exception:
                logger.warning("terminal: renewing the sandbox use failed", exc_info=True)

    async def record_history(self, session: Session) -> None:
        """The terminal history, read from tmux while attached (and once more at detach)."""
        while True:
            await asyncio.sleep(settings.TERMINAL_CAPTURE_SECONDS)
            await self.capture(session)

    async def record(self, session: Session, kind: SessionActionKind) -> None:
        """The attach or detach in the session's audit trail: who, and from where."""
        address = client_address(handshake_request(self.scope)) or ""
        try:
            await in_thread(
                session_action_record,
                session_pk=session.pk,
                kind=kind,
                user_id=self.scope["user"].pk,
                address=address,
            )
        except Exception:  # the trail is worth a log line, never the terminal
            logger.exception("terminal: recording the %s failed", kind)

    async def remember_tokens(self, session: Session) -> None:
        tokens = caller_tokens(request=handshake_request(self.scope))
        try:
            await in_thread(transcript_tokens_add, session=session, tokens=tokens)
        except Exception:  # the project's own secrets are still masked
            logger.exception("terminal: the caller's tokens could not be kept for masking")

    async def capture(self, session: Session) -> None:
        try:
            await in_thread(transcript_capture, session=session)
        except Exception:  # history is worth a log line, never the terminal
            logger.warning("terminal: capturing the history failed", exc_info=True)

    # --- frames ---------------------------------------------------------------------------------

    async def send_frame(self, kind: str, data: str) -> None:
        await self.send(text_data=json.dumps({"type": kind, "data": data}))

    async def fail(self, message: str, *, code: int) -> None:
        await self.send_frame("error", message)
        await self.close(code=code)


async def readable(terminal: PtyConnection) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(terminal.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_reader(terminal.fileno())


def output_available(terminal: PtyConnection) -> bytes:
    """What the PTY holds now, up to OUTPUT_CHUNK, without waiting; b"" once it has ended."""
    data = bytearray()
    while len(data) < OUTPUT_CHUNK:
        try:
            piece = terminal.read(OUTPUT_CHUNK - len(data), timeout=0)
        except TimeoutError:
            break
        if not piece:
            break
        data += piece
    return bytes(data)


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs a blocking call (the engine, the PTY's resize) off the event loop."""
    result: T = await off_loop(function)(*args, **kwargs)
    return result
