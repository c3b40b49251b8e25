"""The workspace repository endpoints under /workspaces/{id}/git/."""

from __future__ import annotations

import pytest

from apps.projects.models import ProjectEvent
from apps.workspaces.models import Workspace
from tests.gitops.conftest import git

pytestmark = pytest.mark.django_db


def test_status_branches_and_log(client, git_url, repo):
    (repo / "README.md").write_text("edited\n")
    (repo / "untracked.txt").write_text("u\n")

    status = client.get(f"{git_url}/status").json()
    branches = client.get(f"{git_url}/branches").json()["branches"]
    log = client.get(f"{git_url}/log", {"limit": 1}).json()["commits"]

    assert status["branch"] == "main"
    assert status["commit"] == git(repo, "rev-parse", "HEAD")
    assert status["files"] == {"README.md": "modified", "untracked.txt": "untracked"}
    assert [b["name"] for b in branches if not b["remote"]] == ["main"]
    assert [c["message"].strip() for c in log] == ["app"]


def test_a_diff_leaves_the_status_as_the_index_on_disk_says(client, git_url, repo):
    git(repo, "rm", "-q", "--cached", "README.md")  # the diff puts it back, in memory only

    diff = client.get(f"{git_url}/diff").json()
    status = client.get(f"{git_url}/status").json()

    assert diff["files"] == []
    assert status["files"] == {"README.md": "untracked,staged-deleted"}


def test_files_and_file_at_a_ref(client, git_url, repo):
    first = git(repo, "rev-parse", "HEAD~1")

    now = client.get(f"{git_url}/files").json()["files"]
    then = client.get(f"{git_url}/files", {"ref": first}).json()["files"]
    readme = client.get(f"{git_url}/file", {"path": "README.md", "ref": first}).json()

    assert sorted(now) == ["README.md", "logo.bin", "src/app.py"]
    assert then == ["README.md"]
    assert readme["content"] == "hello\n"


def test_write_stage_commit_and_diff(client, git_url, repo, member):
    client.post(f"{git_url}/file", {"path": "notes.md", "content": "n\n"}, format="json")
    worktree = client.get(f"{git_url}/diff").json()

    client.post(f"{git_url}/stage", {"paths": ["notes.md"]}, format="json")
    committed = client.post(f"{git_url}/commit", {"message": "Add notes"}, format="json").json()
    between = client.get(f"{git_url}/diff", {"base": "HEAD~1", "target": "HEAD"}).json()

    assert [f["path"] for f in worktree["files"]] == ["notes.md"]
    assert committed["commit"] == git(repo, "rev-parse", "HEAD")
    assert git(repo, "log", "-1", "--format=%an <%ae>") == f"{member.name} <{member.email}>"
    assert between["stats"] == {"filesChanged": 1, "additions": 1, "deletions": 0}


def test_a_committer_name_git_cannot_hold_is_cleaned(client, git_url, repo, member):
    member.name = "Mia <root@evil>"
    member.save()
    (repo / "README.md").write_text("edited\n")

    response = client.post(f"{git_url}/commit", {"message": "m", "all": True}, format="json")

    assert response.status_code == 200, response.json()
    assert git(repo, "log", "-1", "--format=%an <%ae>") == f"Mia root@evil <{member.email}>"


def test_commit_with_nothing_staged_is_409(client, git_url):
    response = client.post(f"{git_url}/commit", {"message": "empty"}, format="json")

    assert response.status_code == 409
    assert response.json() == {"error": "Nothing to commit"}


def test_checkout_a_branch_and_an_unknown_ref(client, git_url, repo):
    git(repo, "branch", "feature", "HEAD~1")

    switched = client.post(f"{git_url}/checkout", {"ref": "feature"}, format="json")
    unknown = client.post(f"{git_url}/checkout", {"ref": "nope"}, format="json")

    assert switched.status_code == 200
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "feature"
    assert not (repo / "src").exists()
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Unknown revision: nope"}


def test_fetch_without_origin_is_409(client, git_url):
    response = client.post(f"{git_url}/fetch")

    assert response.status_code == 409


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", ".git/config"])
def test_unsafe_paths_are_refused(client, git_url, path):
    assert client.get(f"{git_url}/file", {"path": path}).status_code == 400
    write = client.post(f"{git_url}/file", {"path": path, "content": "x"}, format="json")
    assert write.status_code == 400
    assert client.post(f"{git_url}/stage", {"paths": [path]}, format="json").status_code == 400


def test_another_projects_workspace_git_is_404(client_for, outsider, git_url):
    assert client_for(outsider).get(f"{git_url}/status").status_code == 404


class TestWritesAreAnnounced:
    """A commit, a checkout or a file write moves the workspace's recorded HEAD and tells the
    project's stream, as every other change of a workspace does."""

    def workspace_events(self, project) -> list[dict]:
        return [
            event.data
            for event in ProjectEvent.objects.filter(
                project=project, type="workspace_updated"
            ).order_by("seq")
        ]

    def test_a_commit(self, client, base, workspace, git_url, repo, project):
        before = self.workspace_events(project)
        (repo / "README.md").write_text("edited\n")

        committed = client.post(f"{git_url}/commit", {"message": "m", "all": True}, format="json")

        head = git(repo, "rev-parse", "HEAD")
        assert committed.json()["commit"] == head
        assert client.get(f"{base}/workspaces/{workspace['id']}").json()["commit"] == head
        assert self.workspace_events(project)[len(before) :] == [
            {"workspaceId": workspace["id"], "status": "ready"}
        ]

    def test_a_checkout(self, client, base, workspace, git_url, repo, project):
        git(repo, "branch", "feature", "HEAD~1")
        before = self.workspace_events(project)

        client.post(f"{git_url}/checkout", {"ref": "feature"}, format="json")

        assert Workspace.objects.get(id=workspace["id"]).commit == git(repo, "rev-parse", "HEAD")
        assert len(self.workspace_events(project)) == len(before) + 1

    def test_a_file_write(self, client, workspace, git_url, project):
        before = self.workspace_events(project)

        client.post(f"{git_url}/file", {"path": "notes.md", "content": "n\n"}, format="json")

        assert len(self.workspace_events(project)) == len(before) + 1

    def test_reads_and_refused_writes_are_not(self, client, workspace, git_url, project):
        before = self.workspace_events(project)

        client.get(f"{git_url}/status")
        client.get(f"{git_url}/log")
        client.post(f"{git_url}/commit", {"message": "nothing staged"}, format="json")
        client.post(f"{git_url}/checkout", {"ref": "nope"}, format="json")

        assert self.workspace_events(project) == before
