"""The session files and diff endpoints on a real working copy (contract §2 Sessions)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.gitops.conftest import git, working_copy

pytestmark = pytest.mark.django_db

NO_CHANGE = {"filesChanged": 0, "additions": 0, "deletions": 0}


def test_the_working_copy_is_on_the_session_branch_at_the_workspace_commit(
    client, session, repo, settings
):
    body = client.get(session).json()

    copy = Path(body["workspacePath"])
    assert copy.parent == settings.SESSIONS_DIR
    assert git(copy, "rev-parse", "--abbrev-ref", "HEAD") == "discobot/sess-1"
    assert (
        body["workspaceCommit"] == git(repo, "rev-parse", "HEAD") == git(copy, "rev-parse", "HEAD")
    )


def test_the_working_copy_does_not_trust_inode_change_times(client, session):
    """A docker sandbox's ACL grant changes every file's: git's stat cache must outlive it."""
    assert git(working_copy(client, session), "config", "core.trustctime") == "false"


def test_list_a_folder_with_and_without_hidden_files(client, session):
    (working_copy(client, session) / ".env").write_text("X=1")

    plain = client.get(f"{session}/files", {"path": "."}).json()
    hidden = client.get(f"{session}/files", {"path": ".", "hidden": "true"}).json()
    sub = client.get(f"{session}/files", {"path": "src"}).json()

    assert [e["name"] for e in plain["entries"]] == ["src", "README.md", "logo.bin"]
    assert plain["entries"][0] == {"name": "src", "type": "directory"}
    assert {"name": "README.md", "type": "file", "size": 6} in plain["entries"]
    assert ".env" in [e["name"] for e in hidden["entries"]]
    assert ".git" not in [e["name"] for e in hidden["entries"]]
    assert sub == {"path": "src", "entries": [{"name": "app.py", "type": "file", "size": 71}]}


def test_read_text_and_binary(client, session):
    text = client.get(f"{session}/files/read", {"path": "README.md"}).json()
    binary = client.get(f"{session}/files/read", {"path": "logo.bin"}).json()

    assert text == {"path": "README.md", "content": "hello\n", "encoding": "utf8", "size": 6}
    assert binary["encoding"] == "base64"
    assert base64.b64decode(binary["content"]) == bytes(range(256))


def test_read_from_base_shows_the_original(client, session):
    client.put(
        f"{session}/files/write", {"path": "README.md", "content": "changed\n"}, format="json"
    )

    now = client.get(f"{session}/files/read", {"path": "README.md"}).json()
    before = client.get(f"{session}/files/read", {"path": "README.md", "fromBase": "true"}).json()

    assert (now["content"], before["content"]) == ("changed\n", "hello\n")


def test_write_creates_folders_and_binary_files(client, session):
    payload = base64.b64encode(b"\x00\x01\x02").decode()

    text = client.put(
        f"{session}/files/write", {"path": "docs/new.md", "content": "# New\n"}, format="json"
    )
    binary = client.put(
        f"{session}/files/write",
        {"path": "data.bin", "content": payload, "encoding": "base64"},
        format="json",
    )

    assert text.json() == {"path": "docs/new.md", "size": 6}
    assert binary.json() == {"path": "data.bin", "size": 3}
    assert (working_copy(client, session) / "data.bin").read_bytes() == b"\x00\x01\x02"


def test_write_with_a_stale_original_is_a_409_with_the_current_content(client, session):
    url = f"{session}/files/write"
    client.put(url, {"path": "README.md", "content": "theirs\n"}, format="json")

    response = client.put(
        url,
        {"path": "README.md", "content": "mine\n", "originalContent": "hello\n"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json() == {
        "error": "conflict",
        "message": "The file changed since it was read",
        "currentContent": "theirs\n",
    }
    ok = client.put(
        url,
        {"path": "README.md", "content": "mine\n", "originalContent": "theirs\n"},
        format="json",
    )
    assert ok.status_code == 200
    assert (working_copy(client, session) / "README.md").read_text() == "mine\n"


def test_delete_and_rename(client, session):
    deleted = client.post(f"{session}/files/delete", {"path": "logo.bin"}, format="json")
    renamed = client.post(
        f"{session}/files/rename",
        {"oldPath": "src/app.py", "newPath": "lib/app.py"},
        format="json",
    )
    folder = client.post(f"{session}/files/delete", {"path": "src"}, format="json")

    assert deleted.json() == {"path": "logo.bin", "type": "file"}
    assert renamed.json() == {"oldPath": "src/app.py", "newPath": "lib/app.py"}
    assert folder.json() == {"path": "src", "type": "directory"}
    copy = working_copy(client, session)
    assert not (copy / "logo.bin").exists()
    assert (copy / "lib" / "app.py").exists()


def test_search_is_fuzzy_and_limited(client, session):
    results = client.get(f"{session}/files/search", {"q": "sap"}).json()["results"]
    limited = client.get(f"{session}/files/search", {"q": "e", "limit": 1}).json()["results"]
    too_many = client.get(f"{session}/files/search", {"q": "e", "limit": 201})

    assert [r["path"] for r in results] == ["src/app.py"]
    assert len(limited) == 1
    assert too_many.status_code == 400


class TestDiff:
    def change_everything(self, client, session) -> None:
        copy = working_copy(client, session)
        app = copy / "src" / "app.py"
        app.write_text(app.read_text().replace("line 5\n", "line five\n"))
        (copy / "logo.bin").write_bytes(bytes(range(255, -1, -1)))
        (copy / "README.md").rename(copy / "READ_ME.md")
        (copy / "new.txt").write_text("a\nb\n")

    def test_full_diff(self, client, session):
        self.change_everything(client, session)

        body = client.get(f"{session}/diff").json()

        files = {f["path"]: f for f in body["files"]}
        assert body["stats"] == {"filesChanged": 4, "additions": 3, "deletions": 1}
        app = files["src/app.py"]
        assert (app["status"], app["additions"], app["deletions"], app["binary"]) == (
            "modified",
            1,
            1,
            False,
        )
        assert "-line 5\n+line five\n" in app["patch"]
        assert files["READ_ME.md"]["status"] == "renamed"
        assert files["READ_ME.md"]["oldPath"] == "README.md"
        assert files["logo.bin"]["binary"] is True
        assert files["logo.bin"]["patch"] is None
        assert files["new.txt"]["status"] == "added"

    def test_files_format_has_no_patches(self, client, session):
        self.change_everything(client, session)

        body = client.get(f"{session}/diff", {"format": "files"}).json()

        assert all(set(f) == {"path", "status", "oldPath"} for f in body["files"])
        assert body["stats"]["filesChanged"] == 4

    def test_one_path(self, client, session):
        self.change_everything(client, session)

        one = client.get(f"{session}/diff", {"path": "src/app.py"}).json()
        untouched = client.get(f"{session}/diff", {"path": "src/nothing.py"}).json()

        assert (one["path"], one["status"], one["additions"]) == ("src/app.py", "modified", 1)
        assert untouched["status"] == "unchanged"

    def test_new_files_show_what_the_work_tree_holds_staged_or_not(self, client, session):
        copy = working_copy(client, session)
        (copy / "docs" / "guide").mkdir(parents=True)
        (copy / "docs" / "guide" / "intro.md").write_text("one\ntwo\n")
        (copy / "notes.txt").write_text("draft\n")
        git(copy, "add", "notes.txt")
        (copy / "notes.txt").write_text("final\n")

        body = client.get(f"{session}/diff").json()

        assert [(f["path"], f["status"], f["additions"]) for f in body["files"]] == [
            ("docs/guide/intro.md", "added", 2),
            ("notes.txt", "added", 1),
        ]
        assert body["files"][1]["patch"].endswith("@@ -0,0 +1 @@\n+final\n")
        assert body["stats"] == {"filesChanged": 2, "additions": 3, "deletions": 0}

    def test_an_edit_committed_in_the_session_then_undone_is_no_change(self, client, session):
        copy = working_copy(client, session)
        app = copy / "src" / "app.py"
        original = app.read_text()
        app.write_text(original.replace("line 5\n", "line five\n"))
        git(copy, "commit", "-qam", "the agent's commit")
        app.write_text(original)

        full = client.get(f"{session}/diff").json()
        summary = client.get(f"{session}/diff", {"format": "files"}).json()
        one = client.get(f"{session}/diff", {"path": "src/app.py"}).json()

        assert full == summary == {"files": [], "stats": NO_CHANGE}
        assert one["status"] == "unchanged"

    def test_a_file_dropped_from_the_index_but_kept_in_the_work_tree_is_no_change(
        self, client, session
    ):
        git(working_copy(client, session), "rm", "-q", "--cached", "README.md")

        assert client.get(f"{session}/diff").json() == {"files": [], "stats": NO_CHANGE}

    def test_a_link_that_leads_nowhere_is_a_new_file(self, client, session):
        os.symlink("missing.txt", working_copy(client, session) / "dangling")

        change = client.get(f"{session}/diff", {"path": "dangling"}).json()

        assert (change["status"], change["additions"]) == ("added", 1)
        assert "new file mode 120000" in change["patch"]
        assert "+missing.txt" in change["patch"]

    def test_no_changes_no_files(self, client, session):
        assert client.get(f"{session}/diff").json() == {
            "files": [],
            "stats": {"filesChanged": 0, "additions": 0, "deletions": 0},
        }


class TestDiffAskedAgain:
    """A thread keeps the repositories it diffed open; what changed on disk in between shows."""

    def test_changes_to_the_work_tree_and_the_index_show_in_the_next_diff(self, client, session):
        copy = working_copy(client, session)
        assert client.get(f"{session}/diff").json()["files"] == []

        app = copy / "src" / "app.py"
        app.write_text(app.read_text().replace("line 5\n", "line five\n"))
        git(copy, "add", "src/app.py")
        git(copy, "rm", "-q", "--cached", "README.md")
        (copy / "new.txt").write_text("a\n")
        after_edits = client.get(f"{session}/diff").json()
        git(copy, "commit", "-qam", "the agent's commit")
        (copy / "new.txt").unlink()
        after_commit = client.get(f"{session}/diff").json()

        assert [(f["path"], f["status"]) for f in after_edits["files"]] == [
            ("new.txt", "added"),
            ("src/app.py", "modified"),
        ]
        assert [(f["path"], f["status"]) for f in after_commit["files"]] == [
            ("src/app.py", "modified")
        ]
        assert after_commit["stats"] == {"filesChanged": 1, "additions": 1, "deletions": 1}

    def test_a_file_gone_since_the_last_diff_is_gone_with_links_as_files(self, client, session):
        copy = working_copy(client, session)
        git(copy, "config", "core.symlinks", "false")  # as for a tree with escaping links
        (copy / "new.txt").write_text("a\n")
        first = client.get(f"{session}/diff").json()
        (copy / "new.txt").unlink()

        second = client.get(f"{session}/diff").json()

        assert [f["path"] for f in first["files"]] == ["new.txt"]
        assert second == {"files": [], "stats": NO_CHANGE}

    def test_a_repository_made_again_in_the_same_place_is_read_anew(self, client, session):
        copy = working_copy(client, session)
        (copy / "new.txt").write_text("a\n")
        assert [f["path"] for f in client.get(f"{session}/diff").json()["files"]] == ["new.txt"]
        base = git(copy, "rev-parse", "HEAD")  # the base: nothing was committed
        shutil.rmtree(copy / ".git")
        git(copy, "init", "-q")
        git(copy, "add", ".")
        git(copy, "commit", "-qm", "everything, new.txt included")
        assert subprocess.run(["git", "-C", copy, "cat-file", "-e", base]).returncode != 0

        response = client.get(f"{session}/diff")

        assert response.status_code == 404, response.content
        assert "Unknown revision" in response.json()["error"]

    def test_a_configuration_made_unsafe_after_a_diff_is_refused(self, client, session):
        copy = working_copy(client, session)
        assert client.get(f"{session}/diff").status_code == 200
        git(copy, "config", "core.fsmonitor", "/bin/false")

        response = client.get(f"{session}/diff")

        assert response.status_code == 409
        assert "core.fsmonitor" in response.json()["error"]


class TestPathSafety:
    @pytest.mark.parametrize(
        "path", ["../outside.txt", "/etc/passwd", "src/../../x", ".git/config", "a\x00b"]
    )
    def test_paths_outside_are_refused_everywhere(self, client, session, path):
        calls = [
            client.get(f"{session}/files/read", {"path": path}),
            client.get(f"{session}/files", {"path": path}),
            client.put(f"{session}/files/write", {"path": path, "content": "x"}, format="json"),
            client.post(f"{session}/files/delete", {"path": path}, format="json"),
            client.post(
                f"{session}/files/rename", {"oldPath": "README.md", "newPath": path}, format="json"
            ),
            client.get(f"{session}/diff", {"path": path}),
        ]

        for response in calls:
            assert response.status_code == 400, (response.request, response.content)
            assert "error" in response.json()

    def test_symlinks_pointing_outside_are_refused(self, client, session, tmp_path):
        secret = tmp_path / "secret.txt"
        secret.write_text("top secret")
        copy = working_copy(client, session)
        os.symlink(secret, copy / "link.txt")
        os.symlink(tmp_path, copy / "linkdir")

        read = client.get(f"{session}/files/read", {"path": "link.txt"})
        write = client.put(
            f"{session}/files/write", {"path": "linkdir/evil.txt", "content": "x"}, format="json"
        )

        assert read.status_code == write.status_code == 400
        assert "top secret" not in read.content.decode()
        assert not (tmp_path / "evil.txt").exists()

    def test_the_diff_shows_a_links_target_never_what_it_leads_to(self, client, session, tmp_path):
        secret = tmp_path / "secret.txt"
        secret.write_text("top secret")
        os.symlink(secret, working_copy(client, session) / "link.txt")

        body = client.get(f"{session}/diff").json()

        assert [f["path"] for f in body["files"]] == ["link.txt"]
        assert f"+{secret}" in body["files"][0]["patch"]
        assert "top secret" not in str(body)

    def test_files_over_the_size_limit_are_refused(self, client, session, settings):
        settings.FILE_MAX_BYTES = 10

        read = client.get(f"{session}/files/read", {"path": "src/app.py"})
        write = client.put(
            f"{session}/files/write", {"path": "big.txt", "content": "x" * 11}, format="json"
        )

        assert read.status_code == 400
        assert write.status_code == 413
        assert not (working_copy(client, session) / "big.txt").exists()


def test_a_session_without_a_working_copy_answers_409(client, base, workspace):
    client.post(f"{base}/sessions", {"id": "early", "workspaceId": workspace["id"]}, format="json")

    response = client.get(f"{base}/sessions/early/files")

    assert response.status_code == 409


def test_another_projects_session_files_are_404(client_for, outsider, session):
    response = client_for(outsider).get(f"{session}/files/read", {"path": "README.md"})

    assert response.status_code == 404
