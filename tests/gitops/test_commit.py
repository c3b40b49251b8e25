"""session_commit: the session's changes become commits on the workspace's branch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from apps.core.models import Job
from tests.gitops.conftest import git, working_copy
from tests.jobs import run_jobs

pytestmark = pytest.mark.django_db


def edit_line(client, session, old: str, new: str) -> None:
    current = client.get(f"{session}/files/read", {"path": "src/app.py"}).json()["content"]
    client.put(
        f"{session}/files/write",
        {"path": "src/app.py", "content": current.replace(old, new)},
        format="json",
    )


def commit(client, session) -> dict:
    assert client.post(f"{session}/commit").status_code == 200
    run_jobs()
    return client.get(session).json()


def test_a_clean_commit_lands_in_the_workspace(client, session, repo, workspace, base):
    before = git(repo, "rev-parse", "HEAD")
    edit_line(client, session, "line 3\n", "line three\n")
    client.put(f"{session}/files/write", {"path": "NEW.md", "content": "new\n"}, format="json")

    body = commit(client, session)

    assert body["commitStatus"] == "completed"
    assert body["commitError"] is None
    assert body["appliedCommit"] == git(repo, "rev-parse", "HEAD") != before
    assert git(repo, "rev-parse", "HEAD~1") == before
    assert (repo / "NEW.md").read_text() == "new\n"
    assert "line three" in (repo / "src" / "app.py").read_text()
    assert git(repo, "status", "--porcelain") == ""
    assert (
        client.get(f"{base}/workspaces/{workspace['id']}").json()["commit"] == body["appliedCommit"]
    )
    # What is committed is no longer a change of the session:
    assert client.get(f"{session}/diff").json()["files"] == []


def test_a_second_commit_applies_only_the_new_changes(client, session, repo):
    edit_line(client, session, "line 3\n", "line three\n")
    commit(client, session)
    edit_line(client, session, "line 7\n", "line seven\n")

    body = commit(client, session)

    assert body["commitStatus"] == "completed"
    content = (repo / "src" / "app.py").read_text()
    assert "line three" in content and "line seven" in content
    assert git(repo, "rev-list", "--count", "HEAD") == "4"


def test_the_workspace_moved_on_elsewhere_still_applies(client, session, repo):
    (repo / "other.txt").write_text("upstream\n")
    git(repo, "add", "other.txt")
    git(repo, "commit", "-q", "-m", "upstream change")
    edit_line(client, session, "line 3\n", "line three\n")

    body = commit(client, session)

    assert body["commitStatus"] == "completed"
    assert (repo / "other.txt").exists()
    assert "line three" in (repo / "src" / "app.py").read_text()


def test_a_conflict_fails_and_loses_nothing(client, session, repo):
    app = repo / "src" / "app.py"
    app.write_text(app.read_text().replace("line 3\n", "line THREE (workspace)\n"))
    git(repo, "commit", "-q", "-am", "workspace edit")
    workspace_head = git(repo, "rev-parse", "HEAD")
    edit_line(client, session, "line 3\n", "line three (session)\n")

    body = commit(client, session)

    assert body["commitStatus"] == "failed"
    assert "src/app.py" in body["commitError"]
    assert body["appliedCommit"] is None
    assert git(repo, "rev-parse", "HEAD") == workspace_head
    assert git(repo, "status", "--porcelain") == ""
    assert "line THREE (workspace)" in app.read_text()
    copy = Path(body["workspacePath"])
    assert "line three (session)" in (copy / "src" / "app.py").read_text()
    assert Job.objects.get(type="session_commit").attempts == 1  # a conflict is not retried


def test_uncommitted_workspace_edits_in_the_way_fail_the_commit(client, session, repo):
    app = repo / "src" / "app.py"
    local_edit = app.read_text().replace("line 3\n", "line 3 (uncommitted)\n")
    app.write_text(local_edit)
    edit_line(client, session, "line 3\n", "line three\n")

    body = commit(client, session)

    assert body["commitStatus"] == "failed"
    assert app.read_text() == local_edit


def test_nothing_to_commit_fails_clearly(client, session):
    body = commit(client, session)

    assert body["commitStatus"] == "failed"
    assert body["commitError"] == "The session has no changes to commit"


def test_a_git_url_workspace_end_to_end(client, base, repo, settings):
    """The issue's "done when": clone, edit through the API, diff, commit; the clone has it."""
    created = client.post(
        f"{base}/workspaces", {"path": f"file://{repo}", "sourceType": "git"}, format="json"
    ).json()
    run_jobs()
    client.post(f"{base}/sessions", {"id": "e2e", "workspaceId": created["id"]}, format="json")
    run_jobs()
    session = f"{base}/sessions/e2e"
    client.put(f"{session}/files/write", {"path": "hello.txt", "content": "hi\n"}, format="json")

    diff = client.get(f"{session}/diff", {"format": "files"}).json()
    body = commit(client, session)

    assert diff["files"] == [{"path": "hello.txt", "status": "added", "oldPath": None}]
    clone = settings.WORKSPACE_DIR / created["id"]
    assert body["commitStatus"] == "completed"
    assert git(clone, "rev-parse", "HEAD") == body["appliedCommit"]
    assert (clone / "hello.txt").read_text() == "hi\n"


def test_deleted_and_renamed_files_are_committed_too(client, session, repo):
    client.post(f"{session}/files/delete", {"path": "logo.bin"}, format="json")
    client.post(
        f"{session}/files/rename",
        {"oldPath": "README.md", "newPath": "docs/README.md"},
        format="json",
    )

    body = commit(client, session)

    assert body["commitStatus"] == "completed"
    assert not (repo / "logo.bin").exists()
    assert not (repo / "README.md").exists()
    assert (repo / "docs" / "README.md").read_text() == "hello\n"
    assert git(repo, "status", "--porcelain") == ""


def test_a_link_that_leads_nowhere_is_committed_as_the_diff_shows_it(client, session, repo):
    os.symlink("missing.txt", working_copy(client, session) / "dangling")

    body = commit(client, session)

    assert body["commitStatus"] == "completed"
    assert os.readlink(repo / "dangling") == "missing.txt"
