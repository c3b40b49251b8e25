"""The workspace git endpoints work only on the root of a repository's work tree (issue 10,
item 1): a workspace folder that is anything else is refused before anything is read or written.
"""

from __future__ import annotations

import pytest

from apps.workspaces.models import Workspace
from tests.gitops.conftest import git
from tests.jobs import run_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def plain_folder(tmp_path):
    folder = tmp_path / "plain"
    (folder / "secret").mkdir(parents=True)
    (folder / "secret" / "db.conf").write_text("password=hunter2\n")
    return folder


def pointed_at(workspace: dict, folder) -> None:
    """The workspace row names `folder` (as a server before this check could have stored)."""
    Workspace.objects.filter(id=workspace["id"]).update(work_dir=str(folder))


def calls(client, git_url):
    return [
        client.get(f"{git_url}/file", {"path": "secret/db.conf"}),
        client.post(f"{git_url}/file", {"path": "secret/new.txt", "content": "x"}, format="json"),
        client.post(f"{git_url}/stage", {"paths": ["secret/db.conf"]}, format="json"),
        client.post(f"{git_url}/commit", {"message": "m", "all": True}, format="json"),
        client.post(f"{git_url}/checkout", {"ref": "main"}, format="json"),
        client.post(f"{git_url}/fetch"),
        client.get(f"{git_url}/status"),
        client.get(f"{git_url}/diff"),
    ]


def test_a_folder_that_is_no_repository_is_refused(client, git_url, workspace, plain_folder):
    pointed_at(workspace, plain_folder)

    for response in calls(client, git_url):
        assert response.status_code == 409, (response.request, response.content)
        assert "hunter2" not in response.content.decode()
        assert response.json()["error"].startswith("Not a git repository")
    assert not (plain_folder / "secret" / "new.txt").exists()
    assert not (plain_folder / ".git").exists()


def test_the_root_folder_is_refused(client, git_url, workspace):
    pointed_at(workspace, "/")

    for response in calls(client, git_url):
        assert response.status_code == 409, (response.request, response.content)


def test_a_folder_inside_a_repository_is_refused(client, git_url, workspace, repo):
    (repo / "secret").mkdir()
    (repo / "secret" / "db.conf").write_text("password=hunter2\n")
    pointed_at(workspace, repo / "secret")

    for response in calls(client, git_url):
        assert response.status_code == 409, (response.request, response.content)
        assert "hunter2" not in response.content.decode()
    assert not (repo / "secret" / "secret").exists()
    assert git(repo, "status", "--porcelain") == "?? secret/"


def test_a_git_folder_or_a_bare_repository_is_refused(client, git_url, workspace, repo, tmp_path):
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))

    for folder in (repo / ".git", bare):
        pointed_at(workspace, folder)
        for response in calls(client, git_url):
            assert response.status_code == 409, (folder, response.request, response.content)
    assert not (repo / ".git" / "secret").exists()
    assert not (bare / "secret").exists()


def test_a_workspace_on_a_plain_folder_has_no_git(client, base, plain_folder):
    created = client.post(f"{base}/workspaces", {"path": str(plain_folder)}, format="json")
    run_jobs()
    workspace = client.get(f"{base}/workspaces/{created.json()['id']}").json()
    assert workspace["status"] == "ready", workspace

    for response in calls(client, f"{base}/workspaces/{workspace['id']}/git"):
        assert response.status_code == 409, (response.request, response.content)
        assert "not a git repository" in response.json()["error"].lower()
    assert not (plain_folder / "secret" / "new.txt").exists()
    assert not (plain_folder / ".git").exists()
