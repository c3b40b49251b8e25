from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.sandbox.selectors import providers_available
from tests.servers import Server, running_server

SEED_SESSION = """
import subprocess

from apps.workspaces.models import Session, SessionStatus, SourceType, Workspace, WorkspaceStatus
given = {given}
workspace = Workspace.objects.create(
    project_id="local", path=given["path"], source_type=SourceType.LOCAL,
    provider=given["provider"], status=WorkspaceStatus.READY,
)
head = subprocess.run(
    ["git", "-C", given["path"], "rev-parse", "HEAD"], capture_output=True, text=True
).stdout.strip()
Session.objects.create(
    id=given["id"], project_id="local", workspace=workspace, name="Terminal",
    status=SessionStatus.READY, workspace_path=given["path"], workspace_commit=head,
)
"""


@dataclass
class TerminalSite:
    """A running server (anonymous mode) holding a ready session on a working copy."""

    server: Server
    session_id: str
    working_copy: Path

    def url(self, query: str = "rows=24&cols=80") -> str:
        ws = self.server.base_url.replace("http://", "ws://")
        return f"{ws}/api/projects/local/sessions/{self.session_id}/terminal/ws?{query}"


@pytest.fixture(params=["local", "docker"])
def provider_name(request) -> str:
    if request.param not in providers_available():
        pytest.skip(f"the {request.param} provider is not available here (no engine answers)")
    return request.param


@pytest.fixture
def short_tmp(tmp_path_factory) -> Path:
    """The local provider's tmux socket is under DATA_DIR, and a Unix socket's path must fit in
    108 bytes: a test's own tmp_path can be longer."""
    return tmp_path_factory.mktemp("t", numbered=True)


def session_seed(server: Server, *, session_id: str, working_copy: Path, provider: str) -> None:
    given = {"id": session_id, "path": str(working_copy), "provider": provider}
    seeded = server.manage("shell", "-c", SEED_SESSION.format(given=json.dumps(given)))
    assert seeded.returncode == 0, seeded.stderr


@pytest.fixture
def site(provider_name, short_tmp) -> Iterator[TerminalSite]:
    yield from terminal_site(provider_name, short_tmp)


def terminal_site(provider_name: str, short_tmp: Path, **settings: str) -> Iterator[TerminalSite]:
    working_copy = short_tmp / "copy"
    working_copy.mkdir()
    (working_copy / "marker.txt").write_text("the working copy\n")
    with running_server(short_tmp, SANDBOX_PROVIDER=provider_name, **settings) as server:
        session_seed(server, session_id="term-1", working_copy=working_copy, provider=provider_name)
        site = TerminalSite(server=server, session_id="term-1", working_copy=working_copy)
        try:
            yield site
        finally:
            server.manage("shell", "-c", SANDBOX_REMOVE)


# The sandbox goes with the test (a container would outlive it).
SANDBOX_REMOVE = """
from apps.workspaces.models import Session
from apps.workspaces.sandboxes import session_sandbox_provider
for session in Session.objects.all():
    if session.sandbox_provider:
        session_sandbox_provider(session).remove(str(session.uuid))
"""
