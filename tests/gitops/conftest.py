from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.jobs import run_jobs


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture(autouse=True)
def workspace_roots(settings, tmp_path):
    """Folders below the test's own may be workspaces (with auth on, local folders need roots)."""
    settings.WORKSPACE_ROOTS = [tmp_path]


@pytest.fixture
def client(client_for, member) -> APIClient:
    return client_for(member)


@pytest.fixture
def base(project) -> str:
    return f"/api/projects/{project.id}"


@pytest.fixture
def repo(git_repo) -> Path:
    """The workspace repository: README.md, src/app.py (ten lines) and a binary file."""
    (git_repo / "src").mkdir()
    (git_repo / "src" / "app.py").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    (git_repo / "logo.bin").write_bytes(bytes(range(256)))
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "app")
    return git_repo


@pytest.fixture
def workspace(client, base, repo) -> dict:
    created = client.post(f"{base}/workspaces", {"path": str(repo)}, format="json").json()
    run_jobs()
    return created


@pytest.fixture
def git_url(base, workspace) -> str:
    return f"{base}/workspaces/{workspace['id']}/git"


@pytest.fixture
def session(client, base, workspace) -> str:
    client.post(f"{base}/sessions", {"id": "sess-1", "workspaceId": workspace["id"]}, format="json")
    run_jobs()
    body = client.get(f"{base}/sessions/sess-1").json()
    assert body["status"] == "ready", body
    return f"{base}/sessions/sess-1"


def working_copy(client: APIClient, session: str) -> Path:
    return Path(client.get(session).json()["workspacePath"])
