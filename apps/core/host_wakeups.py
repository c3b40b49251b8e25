"""Stream wake-ups between the processes of this machine, when there is no Redis.

Without Redis the channel layer is each process's own memory: a turn written by a web process
could not wake the worker's turn runner, nor the runner's chunks the streams of a web process,
nor an event written by one web process the streams of another; each side polled the database
instead (every 50 ms for chat). Here each event loop that follows logs listens on a Unix
datagram socket in `DATA_DIR/wakeups` (a folder only the server's user may enter), and every
announcement is also sent to the sockets of the other processes there, those of one round of
the sender's event loop together in as few datagrams as they fit.

A wake-up stays a hint, as on Redis: one that is lost (a socket's buffer full, a process
starting) is made up by the polls, and a socket whose process died is removed by the first
sender that finds nobody listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import threading
import weakref
from collections.abc import Callable
from typing import Any

from django.conf import settings

from discobot.outages import DependencyOutage

HOST_WAKEUPS_OUTAGE = DependencyOutage(
    "stream wake-ups between processes", "streams of other processes poll their logs"
)

# A wake-up whose frames would make a larger datagram goes without them: the streams read
# those entries from the log.
DATAGRAM_MAX_BYTES = 64 * 1024


def enabled() -> bool:
    """Whether wake-ups must cross processes here: the channel layer cannot without Redis."""
    return not settings.REDIS_URL


def folder_open() -> int:
    """A descriptor of the sockets' folder (made if missing). Sockets are addressed through it:
    an address is at most 107 bytes, which a deep `DATA_DIR` would exceed."""
    path = os.path.join(settings.DATA_DIR, "wakeups")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def address(folder: int, name: str) -> str:
    return f"/proc/self/fd/{folder}/{name}"


class Senders:
    """The sending side of this process: one socket, and the folder of the current
    `DATA_DIR` (tests change it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.folder_of: str | None = None
        self.folder = -1
        self.socket = socket.socket(
            socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
        )

    def send(self, messages: list[dict[str, Any]]) -> None:
        """`messages` to the sockets of every other process; what cannot be sent is dropped."""
        payloads = packed(messages)
        own = f"{os.getpid()}-"
        with self.lock:
            if self.folder_of != str(settings.DATA_DIR):
                folder = folder_open()
                if self.folder >= 0:
                    os.close(self.folder)
                self.folder, self.folder_of = folder, str(settings.DATA_DIR)
            with os.scandir(self.folder) as entries:
                names = [entry.name for entry in entries if entry.name.endswith(".sock")]
            for name in names:
                if name.startswith(own):  # this process's own layer delivers them
                    continue
                for payload in payloads:
                    try:
                        self.socket.sendto(payload, address(self.folder, name))
                    except ConnectionRefusedError:  # nobody listens there: its process is gone
                        with contextlib.suppress(OSError):
                            os.unlink(name, dir_fd=self.folder)
                        break
                    except OSError:  # full, gone meanwhile: a hint the polls make up for
                        continue


SENDERS = Senders()


def packed(messages: list[dict[str, Any]]) -> list[bytes]:
    """The messages as JSON arrays of at most DATAGRAM_MAX_BYTES each; a message too large
    alone goes without its frames."""
    payloads: list[bytes] = []
    parts: list[bytes] = []
    size = 2
    for message in messages:
        part = json.dumps(message, separators=(",", ":")).encode()
        if len(part) + 2 > DATAGRAM_MAX_BYTES:
            part = json.dumps({k: v for k, v in message.items() if k != "frames"}).encode()
        if parts and size + len(part) + 1 > DATAGRAM_MAX_BYTES:
            payloads.append(b"[" + b",".join(parts) + b"]")
            parts, size = [], 2
        parts.append(part)
        size += len(part) + 1
    if parts:
        payloads.append(b"[" + b",".join(parts) + b"]")
    return payloads


# The wake-ups of the current round of each event loop, sent together once it ends: a worker
# announces the batches of all its turns at once, and a socket queues at most 10 datagrams
# (`net.unix.max_dgram_qlen`), beyond which they were dropped.
rounds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


async def host_send(message: dict[str, Any]) -> None:
    """Tells the other processes' streams of `message` (a `stream_announce`), without Redis."""
    if not enabled():
        return
    loop = asyncio.get_running_loop()
    pending = rounds.get(loop)
    if pending is not None:
        pending.append(message)
        return
    rounds[loop] = pending = [message]
    try:
        await asyncio.sleep(0)  # the other announcements of this round join it
    finally:
        del rounds[loop]
    try:
        SENDERS.send(pending)
    except OSError as error:  # the folder itself is unusable: the polls still deliver
        HOST_WAKEUPS_OUTAGE.failed(error)
    else:
        HOST_WAKEUPS_OUTAGE.recovered()


class HostListener:
    """An event loop's socket: the wake-ups other processes send, handed to `deliver` on the
    loop."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, deliver: Callable[[dict[str, Any]], None]
    ) -> None:
        self.loop, self.deliver = loop, deliver
        self.name = f"{os.getpid()}-{secrets.token_hex(6)}.sock"
        self.folder = folder_open()
        self.socket = socket.socket(
            socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
        )
        try:
            self.socket.bind(address(self.folder, self.name))
            loop.add_reader(self.socket.fileno(), self._read)
        except BaseException:
            self.close()
            raise

    def _read(self) -> None:
        while True:
            try:
                payload = self.socket.recv(DATAGRAM_MAX_BYTES)
            except OSError:  # nothing more to read (or closed)
                return
            try:
                messages = json.loads(payload)
            except ValueError:
                continue
            for message in messages if isinstance(messages, list) else ():
                if valid(message):
                    self.deliver(message)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.remove_reader(self.socket.fileno())
        with contextlib.suppress(OSError):
            os.unlink(self.name, dir_fd=self.folder)
        self.socket.close()
        os.close(self.folder)


def valid(message: Any) -> bool:
    """A wake-up as `stream_announce` makes it: a group, a seq and maybe frames."""
    if not isinstance(message, dict) or message.get("type") != "stream.wake":
        return False
    frames = message.get("frames", [])
    return (
        isinstance(message.get("group"), str)
        and type(message.get("seq")) is int
        and isinstance(frames, list)
        and all(isinstance(frame, str) for frame in frames)
    )
