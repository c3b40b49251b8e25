"""WebSockets in tests: through the real `discobot.asgi.application` (Channels'
WebsocketCommunicator), or over a socket to a real server (a minimal RFC 6455 client: the
test environment has no WebSocket client library).

`ProbeConsumer` is a project WebSocket that says who it let in; `probe_route()` mounts it in
the real routing list for the length of a test.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import path

from apps.accounts.models import User
from apps.projects.consumers import ProjectScopedConsumer
from discobot.asgi import application
from discobot.routing import websocket_urlpatterns

# Generous: a loaded machine may be slow; these are deadlines, not speeds.
TIMEOUT = 30
PROBE_PATH = "ws/probe/projects/{project_id}"


class ProbeConsumer(ProjectScopedConsumer):
    """Accepts and reports the membership it was given."""

    async def connect(self) -> None:
        await self.accept()
        caller = self.scope["caller"]
        await self.send(
            text_data=json.dumps(
                {
                    "projectId": self.project.id,
                    "userId": str(self.scope["user"].id),
                    "role": self.membership.role,
                    "signedInWith": str(caller.signed_in_with),
                }
            )
        )


PROBE_ROUTE = path(PROBE_PATH.format(project_id="<str:project_id>"), ProbeConsumer.as_asgi())


@contextmanager
def probe_route() -> Iterator[None]:
    """Channels' URLRouter keeps the list it was given, so a route appended to the real
    `websocket_urlpatterns` is served by `discobot.asgi.application` until removed."""
    websocket_urlpatterns.append(PROBE_ROUTE)
    try:
        yield
    finally:
        websocket_urlpatterns.remove(PROBE_ROUTE)


def session_cookie(user: User) -> str:
    """A login session's cookie value, as a browser holds it."""
    client = Client()
    client.force_login(user)
    return client.cookies["discobot_session"].value


def handshake_headers(
    *,
    host: str = "localhost",
    origin: str | None = None,
    bearer: str | None = None,
    session: str | None = None,
) -> list[tuple[bytes, bytes]]:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if bearer is not None:
        headers.append((b"authorization", f"Bearer {bearer}".encode()))
    if session is not None:
        headers.append((b"cookie", f"discobot_session={session}".encode()))
    return headers


def communicator(
    path: str, *, client_address: str = "127.0.0.1", **headers: Any
) -> WebsocketCommunicator:
    """A communicator to the real application; `headers` as `handshake_headers` takes them."""
    opened = WebsocketCommunicator(application, path, headers=handshake_headers(**headers))
    # The application has not started yet: the scope may still gain what a server adds.
    opened.scope["client"] = (client_address, 50000)
    opened.scope["server"] = ("127.0.0.1", 3001)
    return opened


@dataclass
class Outcome:
    """What a client saw: refused at the handshake, or accepted and then a message or a close."""

    accepted: bool
    close_code: int | None = None
    message: dict[str, Any] | None = None


def websocket_outcome(path: str, **options: Any) -> Outcome:
    """Connects, reads the first thing the server sends, and disconnects."""

    async def run() -> Outcome:
        opened = communicator(path, **options)
        accepted, code = await opened.connect(timeout=TIMEOUT)
        if not accepted:
            await opened.wait(TIMEOUT)
            return Outcome(accepted=False, close_code=code)
        first = await opened.receive_output(TIMEOUT)
        await opened.disconnect(timeout=TIMEOUT)
        if first["type"] == "websocket.close":
            return Outcome(accepted=True, close_code=first.get("code"))
        return Outcome(accepted=True, message=json.loads(first["text"]))

    return async_to_sync(run)()


class RawWebSocket:
    """Just enough of a WebSocket client to see a real server's handshake and frames."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        head = self.read_until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def receive(self) -> tuple[int, bytes]:
        """The next frame's opcode (1 text, 8 close) and payload; servers do not mask."""
        first, second = self.read_exactly(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", self.read_exactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", self.read_exactly(8))
        return first & 0x0F, self.read_exactly(size)

    def close(self) -> None:
        self.sock.close()
