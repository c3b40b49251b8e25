from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import Server, free_port, running_server
from tests.terminal.conftest import SANDBOX_REMOVE, session_seed

HTTP_SERVICE = """#!/bin/sh
#---
# name: Web
# description: a tiny web server
# http: {port}
# path: /index.txt
#---
echo "serving on $PORT"
echo "to stderr" >&2
exec python3 -u -m http.server "$PORT" --bind 127.0.0.1
"""


@dataclass
class ServicesSite:
    server: Server
    session_id: str
    working_copy: Path
    port: int

    @property
    def api(self) -> str:
        return f"{self.server.base_url}/api/projects/local/sessions/{self.session_id}/services"

    def service_file(self, name: str, text: str, *, executable: bool = True) -> Path:
        folder = self.working_copy / ".discobot" / "services"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(text)
        path.chmod(0o755 if executable else 0o644)
        return path


@pytest.fixture
def short_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("s", numbered=True)


@pytest.fixture
def site(short_tmp) -> Iterator[ServicesSite]:
    working_copy = short_tmp / "copy"
    working_copy.mkdir()
    (working_copy / "index.txt").write_text("hello from the sandbox\n")
    with running_server(short_tmp, SANDBOX_PROVIDER="local") as server:
        session_seed(server, session_id="svc-1", working_copy=working_copy, provider="local")
        site = ServicesSite(server, "svc-1", working_copy, free_port())
        site.service_file("web", HTTP_SERVICE.format(port=site.port))
        try:
            yield site
        finally:
            server.manage("shell", "-c", SANDBOX_REMOVE)
