"""Where a workspace's files may come from on a multi-user server (issue 10, items 1 and 3):
local folders only inside WORKSPACE_ROOTS, a folder belongs to the project that uses it, git
URLs only with the allowed schemes, and the job checks everything again."""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
import pytest

from apps.core.models import Job
from apps.credentials.services import credential_api_key_store
from apps.projects.models import Role
from apps.workspaces.models import Workspace
from apps.workspaces.selectors import workspace_clone_token
from tests.jobs import run_jobs
from tests.projects.factories import MemberFactory
from tests.servers import clean_environment, manage
from tests.workspaces.conftest import git_repository, head_of
from tests.workspaces.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

DISABLED = (
    "Local folders are disabled on this server: the operator enables them by setting "
    "WORKSPACE_ROOTS"
)
CLAIMED = "This folder is used by a workspace of a project you are not a member of"
STRONG_SECRET = "s" * 24 + "-not-a-default-0123456789"
STRONG_KEY = "ab" * 32


@pytest.fixture
def client(client_for, member):
    return client_for(member)


@pytest.fixture
def base(project) -> str:
    return f"/api/projects/{project.id}"


def add(client, base, path, **body):
    return client.post(f"{base}/workspaces", {"path": str(path), **body}, format="json")


def added(client, base, path, **body) -> dict:
    response = add(client, base, path, **body)
    assert response.status_code == 201, response.json()
    run_jobs()
    return client.get(f"{base}/workspaces/{response.json()['id']}").json()


def refused(response, status: int = 400) -> str:
    assert response.status_code == status, response.json()
    return response.json()["error"]


class TestLocalFolders:
    def test_without_roots_a_signed_in_user_cannot_add_any_folder(self, client, base, settings):
        settings.WORKSPACE_ROOTS = []

        response = add(client, base, "/")

        assert refused(response) == DISABLED
        assert not Workspace.objects.exists()
        assert not Job.objects.exists()

    def test_a_folder_outside_the_roots_is_refused(self, client, base, tmp_path, settings):
        (tmp_path / "root").mkdir()
        (tmp_path / "elsewhere").mkdir()
        settings.WORKSPACE_ROOTS = [tmp_path / "root"]

        for path in ("/", "/etc", tmp_path / "elsewhere", tmp_path / "root" / ".." / "elsewhere"):
            error = refused(add(client, base, path))
            assert error == "Path is outside the folders this server may use", path
        assert not Workspace.objects.exists()

    def test_outside_the_roots_a_missing_folder_looks_like_any_other(
        self, client, base, tmp_path, settings
    ):
        settings.WORKSPACE_ROOTS = [tmp_path / "root"]
        (tmp_path / "root").mkdir()

        existing = refused(add(client, base, "/etc"))
        missing = refused(add(client, base, "/definitely/not/here"))

        assert existing == missing

    def test_a_symlink_inside_a_root_to_a_folder_outside_is_refused(
        self, client, base, tmp_path, settings
    ):
        (tmp_path / "root").mkdir()
        (tmp_path / "secret").mkdir()
        os.symlink(tmp_path / "secret", tmp_path / "root" / "link")
        settings.WORKSPACE_ROOTS = [tmp_path / "root"]

        response = add(client, base, tmp_path / "root" / "link")

        assert refused(response) == "Path is outside the folders this server may use"

    def test_roots_are_compared_after_resolving_their_symlinks(
        self, client, base, tmp_path, settings
    ):
        repo = git_repository(tmp_path / "real" / "repo")
        os.symlink(tmp_path / "real", tmp_path / "root-link")
        settings.WORKSPACE_ROOTS = [tmp_path / "root-link"]

        body = added(client, base, repo)

        assert (body["status"], body["workDir"]) == ("ready", str(repo.resolve()))

    def test_folders_holding_the_servers_own_files_are_refused(
        self, client, base, tmp_path, settings
    ):
        for folder in (settings.DATA_DIR, settings.WORKSPACE_DIR, settings.SESSIONS_DIR):
            Path(folder).mkdir(parents=True, exist_ok=True)

        for path in (tmp_path, settings.DATA_DIR, settings.WORKSPACE_DIR / "some-clone"):
            Path(path).mkdir(parents=True, exist_ok=True)
            error = refused(add(client, base, path))
            assert error == "Path overlaps the folders where this server keeps its own files"

    def test_anonymous_mode_accepts_any_folder(self, anonymous_client, tmp_path, settings):
        settings.WORKSPACE_ROOTS = []
        folder = tmp_path / "anywhere"
        folder.mkdir()

        body = added(anonymous_client, "/api/projects/local", folder)

        assert body["status"] == "ready"


class TestFoldersBelongToTheirProject:
    @pytest.fixture
    def theirs(self, other_project, tmp_path) -> Path:
        """A repository another project (the outsider's) already works on."""
        repo = git_repository(tmp_path / "theirs", files={"a/b/c.txt": "x\n"})
        WorkspaceFactory.create(project=other_project, path=str(repo), real_path=str(repo))
        return repo

    @pytest.mark.parametrize("relative", [".", "a", "a/b"])
    def test_a_non_member_cannot_claim_it_or_a_folder_inside_it(
        self, client, base, theirs, relative, project
    ):
        response = add(client, base, theirs / relative)

        error = refused(response, 409)
        assert error == CLAIMED
        assert not project.workspaces.exists()

    def test_a_non_member_cannot_claim_a_folder_around_it(self, client, base, tmp_path, project):
        (tmp_path / "around").mkdir()
        WorkspaceFactory.create(
            path=str(tmp_path / "around" / "inner"), real_path=str(tmp_path / "around" / "inner")
        )

        assert refused(add(client, base, tmp_path / "around"), 409) == CLAIMED
        assert not project.workspaces.exists()

    @pytest.mark.parametrize("name", ["theirs-too", "theirs_", "THEIRS"])
    def test_a_folder_whose_name_only_starts_like_it_is_not_theirs(
        self, client, base, theirs, tmp_path, name
    ):
        body = added(client, base, git_repository(tmp_path / name))

        assert body["status"] == "ready"

    def test_a_member_of_that_project_may_use_it_here_too(
        self, client, base, theirs, member, other_project
    ):
        MemberFactory.create(project=other_project, user=member, role=Role.MEMBER)

        body = added(client, base, theirs / "a")

        assert body["status"] == "ready"

    def test_the_same_project_may_add_it_twice(self, client, base, tmp_path):
        repo = git_repository(tmp_path / "ours")
        added(client, base, repo)

        assert added(client, base, repo)["status"] == "ready"

    def test_moving_a_workspace_onto_it_is_refused(self, client, base, theirs, tmp_path, project):
        ours = added(client, base, git_repository(tmp_path / "ours"))

        response = client.put(
            f"{base}/workspaces/{ours['id']}", {"path": str(theirs)}, format="json"
        )

        assert refused(response, 409) == CLAIMED
        assert project.workspaces.get().path == str(tmp_path / "ours")

    def test_a_link_to_it_is_the_same_folder(self, client, base, theirs, tmp_path):
        os.symlink(theirs, tmp_path / "alias")

        assert refused(add(client, base, tmp_path / "alias"), 409) == CLAIMED

    def test_as_a_git_source_it_is_refused_too(self, client, base, theirs):
        for path in (str(theirs), f"file://{theirs}"):
            assert refused(add(client, base, path, sourceType="git"), 409) == CLAIMED

    def test_a_git_source_claims_its_folder_as_well(
        self, client_for, outsider, other_project, client, base, tmp_path
    ):
        repo = git_repository(tmp_path / "cloned-by-them")
        cloned = client_for(outsider).post(
            f"/api/projects/{other_project.id}/workspaces",
            {"path": f"file://{repo}", "sourceType": "git"},
            format="json",
        )
        assert cloned.status_code == 201

        assert refused(add(client, base, repo), 409) == CLAIMED


class TestChangingThePath:
    def test_a_new_path_is_prepared_again_from_that_folder(self, client, base, tmp_path):
        first = added(client, base, git_repository(tmp_path / "first"))
        second = git_repository(tmp_path / "second", files={"other.txt": "x\n"})

        changed = client.put(
            f"{base}/workspaces/{first['id']}", {"path": str(second)}, format="json"
        ).json()
        run_jobs()

        assert (changed["status"], changed["workDir"], changed["commit"]) == (
            "initializing",
            None,
            None,
        )
        body = client.get(f"{base}/workspaces/{first['id']}").json()
        assert (body["status"], body["workDir"]) == ("ready", str(second))
        assert body["commit"] == head_of(second)

    def test_the_same_path_again_changes_nothing(self, client, base, tmp_path):
        ready = added(client, base, git_repository(tmp_path / "repo"))

        again = client.put(
            f"{base}/workspaces/{ready['id']}",
            {"path": ready["path"], "displayName": "Renamed"},
            format="json",
        ).json()

        assert (again["status"], again["workDir"], again["displayName"]) == (
            "ready",
            ready["workDir"],
            "Renamed",
        )
        assert Job.objects.filter(type="workspace_init").count() == 1


class TestWorkDirIsTheRepository:
    def test_a_repository_root_is_the_work_dir(self, client, base, tmp_path):
        repo = git_repository(tmp_path / "repo")

        body = added(client, base, repo)

        assert (body["workDir"], body["commit"]) == (str(repo), head_of(repo))
        opened = pygit2.Repository(body["workDir"])
        assert (opened.is_bare, opened.workdir) == (False, f"{repo}/")

    def test_a_folder_inside_another_repository_is_not_that_repository(
        self, client, base, tmp_path
    ):
        outer = git_repository(tmp_path / "outer", files={"sub/file.txt": "x\n"})

        body = added(client, base, outer / "sub")

        assert (body["status"], body["commit"], body["workDir"]) == ("ready", None, None)

    def test_init_git_inside_another_repository_makes_a_repository_in_that_folder(
        self, client, base, tmp_path
    ):
        outer = git_repository(tmp_path / "outer", files={"sub/file.txt": "x\n"})
        outer_head = head_of(outer)

        body = added(client, base, outer / "sub", initGit=True)

        sub = outer / "sub"
        assert (sub / ".git").is_dir()
        assert (body["workDir"], body["commit"]) == (str(sub), head_of(sub))
        assert body["commit"] != outer_head
        assert head_of(outer) == outer_head
        assert pygit2.Repository(str(sub)).workdir == f"{sub}/"

    @pytest.mark.parametrize("kind", ["symlink", "gitfile"])
    def test_a_dot_git_that_points_elsewhere_ends_in_error(self, client, base, tmp_path, kind):
        elsewhere = git_repository(tmp_path / "elsewhere")
        folder = tmp_path / "folder"
        folder.mkdir()
        if kind == "symlink":
            os.symlink(elsewhere / ".git", folder / ".git")
        else:
            (folder / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")

        body = added(client, base, folder)

        assert (body["status"], body["workDir"], body["commit"]) == ("error", None, None)
        assert ".git" in body["errorMessage"]

    def test_a_repository_configured_with_another_work_tree_ends_in_error(
        self, client, base, tmp_path
    ):
        repo = git_repository(tmp_path / "repo")
        (tmp_path / "other").mkdir()
        pygit2.Repository(str(repo)).config["core.worktree"] = str(tmp_path / "other")

        body = added(client, base, repo)

        assert (body["status"], body["workDir"]) == ("error", None)


class TestGitSources:
    @pytest.mark.parametrize("form", ["{}", "file://{}"])
    def test_a_repository_on_the_server_outside_the_roots_is_refused(
        self, client, base, tmp_path, settings, form
    ):
        repo = git_repository(tmp_path / "server-source")
        (tmp_path / "root").mkdir()
        settings.WORKSPACE_ROOTS = [tmp_path / "root"]

        response = add(client, base, form.format(repo), sourceType="git")

        assert refused(response) == "Path is outside the folders this server may use"
        assert not Workspace.objects.exists()

    @pytest.mark.parametrize("form", ["{}", "file://{}"])
    def test_without_roots_no_repository_on_the_server_may_be_cloned(
        self, client, base, tmp_path, settings, form
    ):
        repo = git_repository(tmp_path / "server-source")
        settings.WORKSPACE_ROOTS = []

        assert refused(add(client, base, form.format(repo), sourceType="git")) == DISABLED

    @pytest.mark.parametrize("form", ["{}", "file://{}"])
    def test_a_repository_inside_the_roots_is_cloned(self, client, base, tmp_path, settings, form):
        repo = git_repository(tmp_path / "shared")

        body = added(client, base, form.format(repo), sourceType="git")

        assert body["status"] == "ready"
        assert body["workDir"] == str(settings.WORKSPACE_DIR / body["id"])
        assert body["commit"] == head_of(repo)

    @pytest.mark.parametrize(
        "url",
        [
            "ext::sh -c touch% /tmp/pwned",
            "ext::sh",
            "fd::17",
            "-uhttps://example.com/repo.git",
            "--upload-pack=touch /tmp/pwned",
            "https://example.com/repo.git --upload-pack=touch",
            "ssh://-oProxyCommand=touch%20/tmp/pwned/repo",
            "git@-oProxyCommand=touch:repo",
            "https://example.com/repo.git?--upload-pack=x",
            "https://example.com/repo.git\n--upload-pack=x",
            "https://exa\tmple.com/repo.git",
            "https://example.com/\x00repo.git",
            "file://other-host/srv/repo.git",
        ],
    )
    def test_urls_that_smuggle_options_or_transports_are_refused(self, client, base, url):
        response = add(client, base, url, sourceType="git")

        assert response.status_code == 400, url
        assert not Workspace.objects.exists()

    @pytest.mark.parametrize(
        "url",
        [
            "https://example.com/org/repo.git",
            "ssh://git@example.com:2222/org/repo.git",
            "git@example.com:org/repo.git",
            "git://example.com/org/repo.git",
        ],
    )
    def test_https_ssh_and_git_urls_are_accepted(self, client, base, url):
        response = add(client, base, url, sourceType="git")

        assert response.status_code == 201, response.json()

    def test_http_is_refused_unless_the_operator_allows_it(self, client, base, settings):
        error = refused(add(client, base, "http://example.com/repo.git", sourceType="git"))
        settings.GIT_URL_SCHEMES = [*settings.GIT_URL_SCHEMES, "http"]
        allowed = add(client, base, "http://example.com/repo.git", sourceType="git")

        assert "http" in error
        assert "GIT_URL_SCHEMES" in error
        assert allowed.status_code == 201

    def test_anonymous_mode_clones_from_anywhere_as_before(
        self, anonymous_client, settings, tmp_path
    ):
        settings.WORKSPACE_ROOTS = []
        repo = git_repository(tmp_path / "anywhere")

        for url in ("http://example.com/repo.git", f"file://{repo}", str(repo)):
            response = add(anonymous_client, "/api/projects/local", url, sourceType="git")
            assert response.status_code == 201, response.json()

    def test_a_bad_url_is_refused_when_changing_the_path(self, client, base, project):
        workspace = WorkspaceFactory.create(
            project=project, source_type="git", path="https://example.com/r.git"
        )

        response = client.put(
            f"{base}/workspaces/{workspace.id}", {"path": "ext::sh -c id"}, format="json"
        )

        assert response.status_code == 400
        workspace.refresh_from_db()
        assert workspace.path == "https://example.com/r.git"


class TestCloneToken:
    """The project's `github` credential authenticates clones from GitHub, and only from it."""

    @pytest.fixture
    def github_token(self, project) -> str:
        credential_api_key_store(project=project, provider="github", api_key="ghp_secret")
        return "ghp_secret"

    @pytest.mark.parametrize(
        ("url", "sent"),
        [
            ("https://github.com/org/private.git", True),
            ("https://collector.example/org/private.git", False),
            ("https://github.com.collector.example/org/private.git", False),
            ("http://github.com/org/private.git", False),
            ("git://github.com/org/private.git", False),
        ],
    )
    def test_it_is_sent_to_github_only(self, project, github_token, url, sent):
        workspace = WorkspaceFactory.create(project=project, source_type="git", path=url)

        assert workspace_clone_token(workspace) == (github_token if sent else "")


class TestTheJobChecksAgain:
    def test_a_folder_no_longer_inside_the_roots_ends_in_error(
        self, client, base, tmp_path, settings
    ):
        repo = git_repository(tmp_path / "repo")
        created = add(client, base, repo).json()
        (tmp_path / "other-root").mkdir()
        settings.WORKSPACE_ROOTS = [tmp_path / "other-root"]

        run_jobs()

        body = client.get(f"{base}/workspaces/{created['id']}").json()
        assert (body["status"], body["workDir"], body["commit"]) == ("error", None, None)
        assert body["errorMessage"] == "Path is outside the folders this server may use"

    def test_a_local_folder_after_roots_were_removed_ends_in_error(
        self, client, base, tmp_path, settings
    ):
        created = add(client, base, git_repository(tmp_path / "repo")).json()
        settings.WORKSPACE_ROOTS = []

        run_jobs()

        body = client.get(f"{base}/workspaces/{created['id']}").json()
        assert (body["status"], body["errorMessage"]) == ("error", DISABLED)

    def test_a_git_url_whose_scheme_is_no_longer_allowed_ends_in_error(
        self, client, base, settings
    ):
        created = add(client, base, "git://127.0.0.1:1/repo.git", sourceType="git").json()
        settings.GIT_URL_SCHEMES = ["https"]

        assert run_jobs() == 1  # failed at once, not retried

        body = client.get(f"{base}/workspaces/{created['id']}").json()
        assert body["status"] == "error"
        assert "GIT_URL_SCHEMES" in body["errorMessage"]

    def test_a_local_git_source_outside_new_roots_is_not_cloned(
        self, client, base, tmp_path, settings
    ):
        repo = git_repository(tmp_path / "repo")
        created = add(client, base, f"file://{repo}", sourceType="git").json()
        (tmp_path / "other-root").mkdir()
        settings.WORKSPACE_ROOTS = [tmp_path / "other-root"]

        run_jobs()

        body = client.get(f"{base}/workspaces/{created['id']}").json()
        assert (body["status"], body["workDir"]) == ("error", None)
        assert not (settings.WORKSPACE_DIR / created["id"]).exists()

    def test_a_link_repointed_after_the_check_ends_in_error(self, client, base, tmp_path):
        mine = git_repository(tmp_path / "mine")
        theirs = git_repository(tmp_path / "theirs")
        link = tmp_path / "link"
        os.symlink(mine, link)
        created = add(client, base, link).json()
        link.unlink()
        os.symlink(theirs, link)

        run_jobs()

        body = client.get(f"{base}/workspaces/{created['id']}").json()
        assert (body["status"], body["workDir"]) == ("error", None)


class TestStartUp:
    def env(self, tmp_path, **variables: str) -> dict[str, str]:
        env = clean_environment(
            DATA_DIR=str(tmp_path),
            AUTH_ENABLED="true",
            SESSION_SECRET=STRONG_SECRET,
            ENCRYPTION_KEY=STRONG_KEY,
            **variables,
        )
        if "WORKSPACE_ROOTS" not in variables:
            env.pop("WORKSPACE_ROOTS", None)
        return env

    def test_check_warns_that_local_folders_are_off_without_roots(self, tmp_path):
        result = manage("check", env=self.env(tmp_path))

        assert result.returncode == 0, result.stderr
        assert "(workspaces.W001)" in result.stderr
        assert "Local folders are disabled" in result.stderr
        assert "WORKSPACE_ROOTS" in result.stderr

    def test_check_is_quiet_with_roots_and_warns_about_a_root_that_is_not_a_folder(self, tmp_path):
        (tmp_path / "code").mkdir()

        quiet = manage("check", env=self.env(tmp_path, WORKSPACE_ROOTS=str(tmp_path / "code")))
        missing = manage(
            "check",
            env=self.env(tmp_path, WORKSPACE_ROOTS=f"{tmp_path / 'code'},{tmp_path / 'gone'}"),
        )

        assert quiet.returncode == 0, quiet.stderr
        assert "workspaces.W" not in quiet.stderr
        assert "(workspaces.W002)" in missing.stderr
        assert str(tmp_path / "gone") in missing.stderr

    def test_anonymous_mode_does_not_warn(self, tmp_path):
        env = clean_environment(DATA_DIR=str(tmp_path))
        env.pop("WORKSPACE_ROOTS", None)

        result = manage("check", env=env)

        assert "workspaces.W" not in result.stderr
