"""Writing a file through the API keeps its mode; a new file gets the umask's (issue 10, item 8)."""

from __future__ import annotations

import os
import stat

import pytest

from tests.gitops.conftest import git, working_copy

pytestmark = pytest.mark.django_db

SCRIPT = "#!/bin/sh\necho hello\n"


@pytest.fixture
def repo(repo):
    script = repo / "run.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    git(repo, "add", "run.sh")
    git(repo, "commit", "-q", "-m", "script")
    return repo


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def umask_default() -> int:
    current = os.umask(0)
    os.umask(current)
    return 0o666 & ~current


def test_an_executable_script_stays_executable_and_the_diff_shows_no_mode_change(client, session):
    copy = working_copy(client, session)
    assert mode(copy / "run.sh") == 0o755

    response = client.put(
        f"{session}/files/write",
        {"path": "run.sh", "content": SCRIPT + "echo again\n"},
        format="json",
    )

    assert response.status_code == 200
    assert mode(copy / "run.sh") == 0o755
    change = client.get(f"{session}/diff", {"path": "run.sh"}).json()
    assert change["status"] == "modified"
    assert "mode" not in change["patch"]
    assert git(copy, "diff", "--summary") == ""


def test_a_plain_file_keeps_its_mode(client, session):
    copy = working_copy(client, session)
    os.chmod(copy / "README.md", 0o640)

    client.put(f"{session}/files/write", {"path": "README.md", "content": "new\n"}, format="json")

    assert mode(copy / "README.md") == 0o640


def test_a_new_file_gets_the_umask_default(client, session):
    client.put(f"{session}/files/write", {"path": "new/notes.md", "content": "n\n"}, format="json")

    assert mode(working_copy(client, session) / "new" / "notes.md") == umask_default()


def test_git_file_keeps_the_mode_of_a_workspace_script(client, git_url, repo):
    response = client.post(
        f"{git_url}/file", {"path": "run.sh", "content": SCRIPT + "echo again\n"}, format="json"
    )

    assert response.status_code == 200
    assert mode(repo / "run.sh") == 0o755
    assert git(repo, "diff", "--summary") == ""
    assert client.get(f"{git_url}/status").json()["files"] == {"run.sh": "modified"}
