"""Whatever a client sends to the files and git endpoints, the answer is a 4xx `{"error"}`,
never a 500 (issue 10, items 10 and 16)."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

from tests.gitops.conftest import git, working_copy

pytestmark = pytest.mark.django_db

BAD_PATHS = [
    pytest.param("x" * 256, id="component-of-256"),
    pytest.param("src/" + "y" * 300, id="deep-component-of-300"),
    pytest.param("/".join(["z" * 200] * 30), id="path-over-the-os-limit"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("src\\app.py", id="backslash"),
    pytest.param("a\nb", id="control-character"),
    pytest.param("", id="empty"),
]
BAD_REFS = ["a..b", "HEAD^{}", "HEAD:README.md", "@{-1}", "x" * 300, "main\n", "a b"]
UNKNOWN_REFS = ["nope", "refs/heads/nope", "HEAD~99", "0" * 40]


def assert_error(response, status: int) -> None:
    assert response.status_code == status, (response.request, response.content)
    assert isinstance(response.json()["error"], str)


def path_calls(client, session, git_url, path):
    return [
        client.get(f"{session}/files/read", {"path": path}),
        client.get(f"{session}/files/read", {"path": path, "fromBase": "true"}),
        client.put(f"{session}/files/write", {"path": path, "content": "x"}, format="json"),
        client.post(f"{session}/files/delete", {"path": path}, format="json"),
        client.post(f"{session}/files/rename", {"oldPath": path, "newPath": "x"}, format="json"),
        client.post(
            f"{session}/files/rename", {"oldPath": "README.md", "newPath": path}, format="json"
        ),
        client.get(f"{session}/diff", {"path": path}),
        client.get(f"{git_url}/file", {"path": path}),
        client.post(f"{git_url}/file", {"path": path, "content": "x"}, format="json"),
        client.post(f"{git_url}/stage", {"paths": [path]}, format="json"),
    ]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_a_malformed_or_overlong_path_is_a_400_everywhere(client, session, git_url, path):
    calls = path_calls(client, session, git_url, path)
    if path:  # an empty path lists the root
        calls.append(client.get(f"{session}/files", {"path": path}))

    for response in calls:
        assert_error(response, 400)
    assert (working_copy(client, session) / "README.md").read_text() == "hello\n"


def test_a_name_longer_than_the_file_system_allows_is_a_conflict_not_a_500(
    client, session, git_url
):
    path = "é" * 200  # 200 characters, 400 bytes
    calls = [
        client.get(f"{session}/files/read", {"path": path}),
        client.put(f"{session}/files/write", {"path": path, "content": "x"}, format="json"),
        client.post(f"{session}/files/delete", {"path": path}, format="json"),
        client.post(
            f"{session}/files/rename", {"oldPath": "README.md", "newPath": path}, format="json"
        ),
        client.post(f"{git_url}/file", {"path": f"src/{path}", "content": "x"}, format="json"),
    ]
    missing = [
        client.get(f"{git_url}/file", {"path": path}),
        client.post(f"{git_url}/stage", {"paths": [path]}, format="json"),
    ]

    for response in calls:
        assert response.status_code in (404, 409), (response.request, response.content)
    for response in missing:
        assert_error(response, 404)
    assert client.get(f"{session}/diff", {"path": path}).json()["status"] == "unchanged"


@pytest.mark.parametrize("path", [".", "./", "src/.."])
def test_the_root_is_not_a_file(client, session, git_url, path):
    for response in path_calls(client, session, git_url, path):
        assert_error(response, 400)


class TestRefs:
    @pytest.mark.parametrize("ref", BAD_REFS)
    def test_a_malformed_ref_is_a_400(self, client, git_url, repo, ref):
        head = git(repo, "rev-parse", "HEAD")
        calls = [
            client.post(f"{git_url}/checkout", {"ref": ref}, format="json"),
            client.get(f"{git_url}/diff", {"base": ref}),
            client.get(f"{git_url}/diff", {"target": ref}),
            client.get(f"{git_url}/files", {"ref": ref}),
            client.get(f"{git_url}/file", {"path": "README.md", "ref": ref}),
            client.get(f"{git_url}/log", {"ref": ref}),
        ]

        for response in calls:
            assert_error(response, 400)
        assert git(repo, "rev-parse", "HEAD") == head

    @pytest.mark.parametrize("ref", UNKNOWN_REFS)
    def test_a_well_formed_ref_that_does_not_exist_is_a_404(self, client, git_url, ref):
        calls = [
            client.post(f"{git_url}/checkout", {"ref": ref}, format="json"),
            client.get(f"{git_url}/diff", {"base": ref}),
            client.get(f"{git_url}/files", {"ref": ref}),
            client.get(f"{git_url}/file", {"path": "README.md", "ref": ref}),
            client.get(f"{git_url}/log", {"ref": ref}),
        ]

        for response in calls:
            assert_error(response, 404)

    def test_an_earlier_commit_can_be_checked_out(self, client, git_url, repo):
        response = client.post(f"{git_url}/checkout", {"ref": "HEAD~1"}, format="json")

        assert response.status_code == 200
        assert response.json()["commit"] == git(repo, "rev-parse", "HEAD")


class TestStage:
    def test_a_path_neither_in_the_work_tree_nor_in_the_index_is_a_404_and_stages_nothing(
        self, client, git_url, repo
    ):
        (repo / "new.txt").write_text("n\n")

        response = client.post(
            f"{git_url}/stage", {"paths": ["new.txt", "nope.txt"]}, format="json"
        )

        assert_error(response, 404)
        assert "nope.txt" in response.json()["error"]
        assert git(repo, "status", "--porcelain") == "?? new.txt"

    def test_a_path_below_a_file_is_a_404(self, client, git_url):
        response = client.post(f"{git_url}/stage", {"paths": ["README.md/x"]}, format="json")

        assert_error(response, 404)

    def test_a_folder_is_a_409(self, client, git_url):
        assert_error(client.post(f"{git_url}/stage", {"paths": ["src"]}, format="json"), 409)

    def test_a_deleted_file_is_staged_as_deleted(self, client, git_url, repo):
        (repo / "README.md").unlink()

        response = client.post(f"{git_url}/stage", {"paths": ["README.md"]}, format="json")

        assert response.status_code == 200
        assert git(repo, "status", "--porcelain") == "D  README.md"


class TestRename:
    def test_a_folder_cannot_move_into_itself(self, client, session):
        response = client.post(
            f"{session}/files/rename", {"oldPath": "src", "newPath": "src/inner/src"}, format="json"
        )

        assert_error(response, 409)
        assert not (working_copy(client, session) / "src" / "inner").exists()

    def test_onto_an_existing_file_is_a_409(self, client, session):
        response = client.post(
            f"{session}/files/rename",
            {"oldPath": "README.md", "newPath": "logo.bin"},
            format="json",
        )

        assert_error(response, 409)


class TestStateConflicts:
    def test_writing_below_a_file_or_onto_a_folder_is_a_409(self, client, session):
        below = client.put(
            f"{session}/files/write", {"path": "README.md/x", "content": "x"}, format="json"
        )
        onto = client.put(f"{session}/files/write", {"path": "src", "content": "x"}, format="json")

        assert_error(below, 409)
        assert_error(onto, 409)

    def test_reading_a_folder_a_fifo_or_a_socket_is_a_404(self, client, session):
        copy = working_copy(client, session)
        os.mkfifo(copy / "pipe")
        server = socket.socket(socket.AF_UNIX)
        # A socket's path has a short limit: bound nearby, then moved into the working copy.
        short = Path(tempfile.mkdtemp(dir="/tmp")) / "s"
        server.bind(str(short))
        short.rename(copy / "sock")
        try:
            for path in ("src", "pipe", "sock"):
                assert_error(client.get(f"{session}/files/read", {"path": path}), 404)
        finally:
            server.close()


class TestQueryParameters:
    @pytest.mark.parametrize(
        ("endpoint", "params"),
        [
            ("files", {"hidden": "abc"}),
            ("files/read", {"path": "README.md", "fromBase": "abc"}),
            ("diff", {"format": "patch"}),
            ("diff", {"format": ""}),
            ("files/search", {"q": "a", "limit": "abc"}),
        ],
    )
    def test_a_wrong_typed_session_parameter_is_a_400(self, client, session, endpoint, params):
        assert_error(client.get(f"{session}/{endpoint}", params), 400)

    @pytest.mark.parametrize("limit", ["abc", "0", "501", "-1", "1.5"])
    def test_a_log_limit_that_is_not_a_number_from_1_to_500_is_a_400(self, client, git_url, limit):
        assert_error(client.get(f"{git_url}/log", {"limit": limit}), 400)

    def test_a_commit_message_with_a_nul_is_a_400(self, client, git_url, repo):
        (repo / "README.md").write_text("x\n")

        response = client.post(
            f"{git_url}/commit", {"message": "a\x00b", "all": True}, format="json"
        )

        assert_error(response, 400)


class TestOddFileNames:
    NAME = b"caf\xe9.txt"  # Latin-1, not UTF-8

    def test_a_name_that_is_not_utf8_is_shown_with_a_replacement_character(
        self, client, session, git_url, repo
    ):
        copy = working_copy(client, session)
        for tree in (copy, repo):
            with open(os.path.join(bytes(tree), self.NAME), "w") as handle:
                handle.write("x\n")

        listing = client.get(f"{session}/files", {"path": "."})
        search = client.get(f"{session}/files/search", {"q": "caf"})
        diff = client.get(f"{session}/diff")
        summary = client.get(f"{session}/diff", {"format": "files"})
        status = client.get(f"{git_url}/status")
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", "odd name")
        tree = client.get(f"{git_url}/files")
        log = client.get(f"{git_url}/log")

        for response in (listing, search, diff, summary, status, tree, log):
            assert response.status_code == 200, (response.request, response.content)
        assert "caf\ufffd.txt" in [e["name"] for e in listing.json()["entries"]]
        assert [r["path"] for r in search.json()["results"]] == ["caf\ufffd.txt"]
        assert [f["path"] for f in summary.json()["files"]] == ["caf\ufffd.txt"]
        assert "caf\ufffd.txt" in status.json()["files"]
        assert "caf\ufffd.txt" in tree.json()["files"]


def test_a_refused_write_leaves_no_folder_behind(client, session):
    response = client.put(
        f"{session}/files/write",
        {"path": "deep/new/notes.md", "content": "x", "originalContent": "something else"},
        format="json",
    )

    assert_error(response, 409)
    assert not (working_copy(client, session) / "deep").exists()
