"""A server (one per test module) with a session whose services are previewed through their
preview hosts, `{session}-svc-{service}.localhost:{port}`, reached on 127.0.0.1 with that Host."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from websockets.sync.client import ClientConnection, connect

from tests.servers import Server, free_port, running_server
from tests.terminal.conftest import SANDBOX_REMOVE

SEED = """
from apps.workspaces.models import Session, SessionStatus, SourceType, Workspace, WorkspaceStatus
given = {given}
workspace = Workspace.objects.create(
    project_id=given["project"], path=given["path"], source_type=SourceType.LOCAL,
    provider="local", status=WorkspaceStatus.READY,
)
Session.objects.create(
    id=given["id"], project_id=given["project"], workspace=workspace, name="Preview",
    status=SessionStatus.READY, workspace_path=given["path"],
)
"""

WEB = """#!/bin/sh
#---
# http: {port}
#---
exec python3 -u -m http.server "$PORT" --bind 127.0.0.1
"""

# GET /stream writes its first chunk, then waits for the file `release` in the working copy
# before the second; POST /echo answers the body it received and the headers it was sent.
ECHO = """#!{python}
#---
# http: {port}
#---
import json, os, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path != "/stream":
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"ready\\n")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.chunk(b"first\\n")
        while not os.path.exists("release"):
            time.sleep(0.05)
        self.chunk(b"second\\n")
        self.chunk(b"")

    def chunk(self, data):
        self.wfile.write(b"%x\\r\\n%s\\r\\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = b""
            while size := int(self.rfile.readline().strip(), 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        answer = json.dumps({{"body": body.decode(), "headers": dict(self.headers)}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

WEBSOCKET_ECHO = """#!{python}
#---
# http: {port}
#---
import asyncio, os
from websockets.asyncio.server import serve

async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)

async def main():
    async with serve(echo, "127.0.0.1", int(os.environ["PORT"])):
        await asyncio.Future()

asyncio.run(main())
"""


@dataclass
class PreviewSite:
    server: Server
    project_id: str
    session_id: str
    working_copy: Path
    ann: str = ""  # with auth on: a member's API token
    bob: str = ""  # and another user's

    @property
    def port(self) -> str:
        return self.server.base_url.rsplit(":", 1)[1]

    def host(self, service_id: str, session_id: str | None = None) -> str:
        return f"{session_id or self.session_id}-svc-{service_id}.localhost:{self.port}"

    def get(self, host: str, path: str, **kwargs) -> requests.Response:
        """A request to this server as a browser at `http://{host}{path}` sends it."""
        kwargs.setdefault("allow_redirects", False)
        headers = {"Host": host, **kwargs.pop("headers", {})}
        url = f"{self.server.base_url}{path}"
        return requests.get(url, headers=headers, timeout=60, **kwargs)

    def websocket(self, service_id: str, path: str, **kwargs) -> ClientConnection:
        """A WebSocket to `ws://{preview host}{path}`, connected to this server."""
        sock = socket.create_connection(("127.0.0.1", int(self.port)), timeout=60)
        url = f"ws://{self.host(service_id)}{path}"
        return connect(url, sock=sock, open_timeout=60, **kwargs)

    def api(self, path: str, method: str = "post", **kwargs) -> requests.Response:
        sessions = f"/api/projects/{self.project_id}/sessions/{self.session_id}"
        url = f"{self.server.base_url}{sessions}/services{path}"
        return requests.request(method, url, timeout=60, **kwargs)

    def service_file(self, name: str, text: str) -> None:
        folder = self.working_copy / ".discobot" / "services"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)


@contextmanager
def preview_site(tmp: Path, *, session_id: str, **settings: str) -> Iterator[PreviewSite]:
    """A server with a session on a working copy holding the services `web` (a static site),
    `echo` (streams and echoes, see ECHO) and `ws` (a WebSocket echo); `session_seed` makes
    the session."""
    working_copy = tmp / "copy"
    working_copy.mkdir()
    (working_copy / "index.txt").write_text("hello from the sandbox\n")
    with running_server(tmp, SANDBOX_PROVIDER="local", **settings) as server:
        site = PreviewSite(server, "local", session_id, working_copy)
        site.service_file("web", WEB.format(port=free_port()))
        site.service_file("echo", ECHO.format(python=sys.executable, port=free_port()))
        site.service_file("ws", WEBSOCKET_ECHO.format(python=sys.executable, port=free_port()))
        try:
            yield site
        finally:
            server.manage("shell", "-c", SANDBOX_REMOVE)


def session_seed(site: PreviewSite, project_id: str) -> None:
    site.project_id = project_id
    given = {"id": site.session_id, "project": project_id, "path": str(site.working_copy)}
    seeded = site.server.manage("shell", "-c", SEED.format(given=json.dumps(given)))
    assert seeded.returncode == 0, seeded.stderr
