"""A repository's git folder is out of reach of the files and git APIs (issue 10, item 2).

A repository the user controls may commit a symlink `g -> .git`, and a sandbox may plant one in
a working copy: no path may lead into a git folder or out of the work tree, and the server never
takes configuration from a repository that points it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.gitops.conftest import git, working_copy
from tests.gitserver import git_daemon
from tests.jobs import run_jobs

pytestmark = pytest.mark.django_db

# Committed symlinks: into the git folder, out of the tree, and one that stays inside.
HOSTILE_LINKS = {"g": ".git", "hooks": ".git/hooks", "etc": "/etc", "up": ".."}
SAFE_LINKS = {"docs": "src"}


@pytest.fixture
def repo(repo):
    for name, target in {**HOSTILE_LINKS, **SAFE_LINKS}.items():
        os.symlink(target, repo / name)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "links")
    return repo


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder beside the repositories that nothing may touch."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim.txt").write_text("keep me\n")
    return folder


def untouched(outside: Path) -> bool:
    return (
        sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
        and (outside / "victim.txt").read_text() == "keep me\n"
    )


def assert_links_are_plain_files(tree: Path) -> None:
    for name, target in HOSTILE_LINKS.items():
        assert not (tree / name).is_symlink(), name
        assert (tree / name).read_text() == target
    for name, target in SAFE_LINKS.items():
        assert os.readlink(tree / name) == target


def refused(response, status: int = 400) -> None:
    assert response.status_code == status, (response.request, response.content)
    assert "error" in response.json()


class TestCheckouts:
    def test_a_working_copy_holds_links_into_git_or_outside_as_plain_files(self, client, session):
        copy = working_copy(client, session)

        assert_links_are_plain_files(copy)
        # The files stand for the links, as with git's core.symlinks=false: nothing changed.
        assert client.get(f"{session}/diff").json()["files"] == []
        assert git(copy, "status", "--porcelain") == ""
        assert client.get(f"{session}/files/read", {"path": "g"}).json()["content"] == ".git"
        passwd = client.get(f"{session}/files/read", {"path": "etc/passwd"})
        assert passwd.status_code in (404, 409)
        assert "root:" not in passwd.content.decode()

    def test_a_cloned_workspace_holds_links_into_git_or_outside_as_plain_files(
        self, client, base, repo, settings
    ):
        with git_daemon(repo.parent) as port:
            created = client.post(
                f"{base}/workspaces",
                {"path": f"git://127.0.0.1:{port}/{repo.name}", "sourceType": "git"},
                format="json",
            ).json()
            run_jobs()
        workspace = client.get(f"{base}/workspaces/{created['id']}").json()
        assert workspace["status"] == "ready", workspace

        clone = Path(workspace["workDir"])
        assert_links_are_plain_files(clone)
        status = client.get(f"{base}/workspaces/{created['id']}/git/status").json()
        assert status["files"] == {}

    def test_checking_out_a_branch_with_a_link_into_git_writes_a_plain_file(
        self, client, git_url, repo, outside
    ):
        git(repo, "checkout", "-q", "-b", "evil", "HEAD~1")
        os.symlink(str(outside), repo / "out")
        git(repo, "add", "out")
        git(repo, "commit", "-q", "-m", "out")
        git(repo, "checkout", "-q", "main")

        response = client.post(f"{git_url}/checkout", {"ref": "evil"}, format="json")

        assert response.status_code == 200, response.json()
        assert not (repo / "out").is_symlink()
        assert (repo / "out").read_text() == str(outside)
        assert client.get(f"{git_url}/status").json()["files"] == {}


class TestPlantedLinks:
    """A sandbox can put any symlink in its working copy; the API follows none out of bounds."""

    @pytest.fixture
    def copy(self, client, session) -> Path:
        copy = working_copy(client, session)
        for name in HOSTILE_LINKS:
            os.remove(copy / name)
        os.symlink(".git", copy / "g")
        os.symlink(".", copy / "a")
        return copy

    def test_reading_writing_or_listing_through_a_link_into_git_is_refused(
        self, client, session, copy, outside
    ):
        config = (copy / ".git" / "config").read_text()
        evil = f"[core]\n\tworktree = {outside}\n"

        calls = [
            client.get(f"{session}/files/read", {"path": "g/config"}),
            client.get(f"{session}/files/read", {"path": "g/config", "fromBase": "true"}),
            client.get(f"{session}/files", {"path": "g"}),
            client.get(f"{session}/files", {"path": "a/a/g/hooks"}),
            client.put(
                f"{session}/files/write", {"path": "g/config", "content": evil}, format="json"
            ),
            client.put(
                f"{session}/files/write",
                {"path": "a/g/hooks/pre-commit", "content": "x"},
                format="json",
            ),
            client.post(f"{session}/files/delete", {"path": "g/config"}, format="json"),
            client.post(
                f"{session}/files/rename", {"oldPath": "README.md", "newPath": "g/x"}, format="json"
            ),
            client.post(
                f"{session}/files/rename",
                {"oldPath": "g/config", "newPath": "config"},
                format="json",
            ),
            client.get(f"{session}/diff", {"path": "g/config"}),
        ]

        for response in calls:
            refused(response)
        assert (copy / ".git" / "config").read_text() == config
        assert not (copy / "config").exists()
        search = client.get(f"{session}/files/search", {"q": "config"}).json()["results"]
        assert search == []
        # What the attack aimed at: the next diff and commit stay inside the working copy.
        assert client.get(f"{session}/diff").status_code == 200
        assert untouched(outside)

    def test_the_diff_shows_a_planted_links_target_never_what_it_leads_to(
        self, client, session, copy, outside
    ):
        os.symlink(outside / "victim.txt", copy / "leak")

        change = client.get(f"{session}/diff", {"path": "leak"}).json()

        assert change["status"] == "added"
        assert f"+{outside / 'victim.txt'}" in change["patch"]
        assert "keep me" not in change["patch"]

    @pytest.mark.parametrize(
        "path",
        [".GIT/config", ".Git/HEAD", "src/.git/config", "a/a/.git/config", "a/.gIT", "a/a/g"],
    )
    def test_git_folders_in_any_case_at_any_depth_or_through_nested_links_are_refused(
        self, client, session, copy, path
    ):
        calls = [
            client.get(f"{session}/files/read", {"path": path}),
            client.get(f"{session}/files", {"path": path}),
            client.put(f"{session}/files/write", {"path": path, "content": "x"}, format="json"),
            client.post(f"{session}/files/delete", {"path": f"{path}/HEAD"}, format="json"),
            client.post(
                f"{session}/files/rename",
                {"oldPath": "README.md", "newPath": f"{path}/README.md"},
                format="json",
            ),
            client.get(f"{session}/diff", {"path": f"{path}/HEAD"}),
        ]

        for response in calls:
            refused(response)
        assert (copy / ".git" / "HEAD").is_file()
        assert not (copy / ".GIT").exists()
        assert not (copy / ".Git").exists()
        assert (copy / "README.md").is_file()

    def test_deleting_a_link_into_git_removes_the_link_only(self, client, session, copy):
        response = client.post(f"{session}/files/delete", {"path": "g"}, format="json")

        assert response.json() == {"path": "g", "type": "file"}
        assert not os.path.lexists(copy / "g")
        assert (copy / ".git" / "HEAD").is_file()
        assert client.get(f"{session}/diff").status_code == 200

    def test_deleting_a_link_to_a_folder_keeps_the_folder(self, client, session, copy):
        response = client.post(f"{session}/files/delete", {"path": "docs"}, format="json")

        assert response.json() == {"path": "docs", "type": "file"}
        assert (copy / "src" / "app.py").is_file()

    def test_renaming_a_link_into_git_moves_the_link_only(self, client, session, copy):
        response = client.post(
            f"{session}/files/rename", {"oldPath": "g", "newPath": "h"}, format="json"
        )

        assert response.status_code == 200
        assert os.readlink(copy / "h") == ".git"
        assert (copy / ".git" / "HEAD").is_file()

    def test_a_dangling_link_into_git_or_a_loop_of_links_is_refused(self, client, session, copy):
        os.symlink(".git/hooks/post-checkout", copy / "hook")
        os.symlink("missing/../.git/config", copy / "sneaky")
        os.symlink("loop2", copy / "loop1")
        os.symlink("loop1", copy / "loop2")

        calls = [
            client.put(f"{session}/files/write", {"path": "hook", "content": "x"}, format="json"),
            client.put(f"{session}/files/write", {"path": "sneaky", "content": "x"}, format="json"),
            client.get(f"{session}/files/read", {"path": "loop1"}),
            client.put(f"{session}/files/write", {"path": "loop1", "content": "x"}, format="json"),
        ]

        for response in calls:
            refused(response)
        assert not (copy / ".git" / "hooks" / "post-checkout").exists()

    def test_links_that_stay_inside_the_tree_are_followed(self, client, session, copy):
        listing = client.get(f"{session}/files", {"path": "a/docs"})
        read = client.get(f"{session}/files/read", {"path": "a/docs/app.py"})
        write = client.put(
            f"{session}/files/write", {"path": "docs/new.py", "content": "x\n"}, format="json"
        )

        assert [e["name"] for e in listing.json()["entries"]] == ["app.py"]
        assert read.json()["path"] == "src/app.py"
        assert write.status_code == 200
        assert (copy / "src" / "new.py").read_text() == "x\n"

    def test_a_link_out_of_the_tree_is_not_followed(self, client, session, copy, outside):
        os.symlink(str(outside), copy / "out")
        os.symlink("../../..", copy / "src" / "up")

        calls = [
            client.get(f"{session}/files/read", {"path": "out/victim.txt"}),
            client.get(f"{session}/files", {"path": "src/up"}),
            client.put(
                f"{session}/files/write", {"path": "out/victim.txt", "content": "x"}, format="json"
            ),
            client.post(f"{session}/files/delete", {"path": "out/victim.txt"}, format="json"),
        ]

        for response in calls:
            refused(response)
        assert untouched(outside)


class TestWorkspaceRepository:
    """The workspace's own repository (a local folder here) holds the committed links as is."""

    def test_git_file_and_stage_cannot_reach_the_git_folder_through_a_link(
        self, client, git_url, repo, outside
    ):
        config = (repo / ".git" / "config").read_text()
        evil = f"[core]\n\tworktree = {outside}\n"

        calls = [
            client.get(f"{git_url}/file", {"path": "g/config"}),
            client.post(f"{git_url}/file", {"path": "g/config", "content": evil}, format="json"),
            client.post(f"{git_url}/file", {"path": ".GIT/config", "content": evil}, format="json"),
            client.post(f"{git_url}/stage", {"paths": ["g/config"]}, format="json"),
        ]

        for response in calls:
            refused(response)
        assert (repo / ".git" / "config").read_text() == config
        assert client.get(f"{git_url}/status").json()["files"] == {}
        assert untouched(outside)


class TestPlantedConfiguration:
    """Configuration that sends git elsewhere is refused, whoever wrote it."""

    CONFIGS = {
        "core.worktree": "[core]\n\tworktree = {outside}\n",
        "includeif": '[includeIf "gitdir:/"]\n\tpath = {outside}/evil.cfg\n',
        "include": "[include]\n\tpath = {outside}/evil.cfg\n",
        "filter": '[filter "x"]\n\tclean = touch {outside}/pwned\n',
        "core.fsmonitor": "[core]\n\tfsmonitor = touch {outside}/pwned\n",
        "core.hookspath": "[core]\n\thooksPath = {outside}\n",
        "core.sshcommand": "[core]\n\tsshCommand = touch {outside}/pwned\n",
    }

    @pytest.mark.parametrize("key", CONFIGS)
    def test_a_workspace_repository_configured_to_reach_elsewhere_is_refused(
        self, client, git_url, repo, outside, key
    ):
        (outside / "evil.cfg").write_text(f"[core]\n\tworktree = {outside}\n")
        with open(repo / ".git" / "config", "a") as config:
            config.write(self.CONFIGS[key].format(outside=outside))
        (repo / "README.md").write_text("changed\n")

        calls = [
            client.get(f"{git_url}/status"),
            client.get(f"{git_url}/diff"),
            client.get(f"{git_url}/log"),
            client.get(f"{git_url}/branches"),
            client.get(f"{git_url}/files"),
            client.get(f"{git_url}/file", {"path": "README.md"}),
            client.post(f"{git_url}/file", {"path": "new.txt", "content": "x"}, format="json"),
            client.post(f"{git_url}/stage", {"paths": ["README.md"]}, format="json"),
            client.post(f"{git_url}/commit", {"message": "m", "all": True}, format="json"),
            client.post(f"{git_url}/checkout", {"ref": "HEAD~1"}, format="json"),
            client.post(f"{git_url}/fetch"),
        ]

        for response in calls:
            refused(response, 409)
            assert key in response.json()["error"].lower(), response.json()
        assert not (repo / "new.txt").exists()
        assert git(repo, "log", "-1", "--format=%s") == "links"
        (outside / "evil.cfg").unlink()
        assert untouched(outside)

    def test_a_working_copy_configured_to_reach_elsewhere_is_refused(
        self, client, session, outside
    ):
        copy = working_copy(client, session)
        with open(copy / ".git" / "config", "a") as config:
            config.write(f"[core]\n\tworktree = {outside}\n")

        response = client.get(f"{session}/diff")

        refused(response, 409)
        assert "core.worktree" in response.json()["error"]
        assert untouched(outside)
