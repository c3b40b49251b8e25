"""Cloning from a real git server on 127.0.0.1, through the mirror cache."""

from __future__ import annotations

import pytest

from apps.gitops.provider import CloneProgress, git_provider, mirror_path
from apps.projects.models import ProjectEvent
from apps.workspaces.services import workspace_progress_report
from tests.gitops.conftest import git
from tests.gitserver import StallingProxy, git_daemon
from tests.jobs import run_jobs
from tests.workspaces.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def served(repo):
    """`repo` served by `git daemon`, behind a proxy that counts connections."""
    with git_daemon(repo.parent) as port:
        proxy = StallingProxy(port)
        proxy.release()
        yield proxy, f"git://127.0.0.1:{proxy.port}/{repo.name}"
        proxy.close()


def test_a_git_daemon_url_is_cloned(client, base, served, repo, settings):
    _, url = served

    created = client.post(f"{base}/workspaces", {"path": url, "sourceType": "git"}, format="json")
    run_jobs()

    body = client.get(f"{base}/workspaces/{created.json()['id']}").json()
    assert body["status"] == "ready"
    clone = settings.WORKSPACE_DIR / body["id"]
    assert git(clone, "rev-parse", "HEAD") == git(repo, "rev-parse", "HEAD")
    assert git(clone, "remote", "get-url", "origin") == url


def test_the_second_clone_of_a_url_comes_from_the_mirror(client, base, served):
    proxy, url = served
    client.post(f"{base}/workspaces", {"path": url, "sourceType": "git"}, format="json")
    run_jobs()
    after_first = proxy.connections

    second = client.post(f"{base}/workspaces", {"path": url, "sourceType": "git"}, format="json")
    run_jobs()

    assert after_first == 1
    assert proxy.connections == 1  # the second clone did not touch the server
    assert client.get(f"{base}/workspaces/{second.json()['id']}").json()["status"] == "ready"
    assert mirror_path(url, owner=base.rsplit("/", 1)[1]).is_dir()


def test_another_project_never_clones_from_a_mirror_fetched_for_this_one(
    client, base, served, client_for, outsider, other_project
):
    """A mirror fetched with one project's token must not serve a private repository to a
    project that could not fetch it itself."""
    proxy, url = served
    client.post(f"{base}/workspaces", {"path": url, "sourceType": "git"}, format="json")
    run_jobs()

    theirs = client_for(outsider).post(
        f"/api/projects/{other_project.id}/workspaces",
        {"path": url, "sourceType": "git"},
        format="json",
    )
    run_jobs()

    assert proxy.connections == 2  # the other project went to the git server itself
    assert (
        client_for(outsider)
        .get(f"/api/projects/{other_project.id}/workspaces/{theirs.json()['id']}")
        .json()["status"]
        == "ready"
    )


def test_a_stale_mirror_is_fetched_before_cloning(client, base, served, repo, settings):
    proxy, url = served
    client.post(f"{base}/workspaces", {"path": url, "sourceType": "git"}, format="json")
    run_jobs()
    (repo / "later.txt").write_text("pushed later\n")
    git(repo, "add", "later.txt")
    git(repo, "commit", "-q", "-m", "later")
    settings.GIT_MIRROR_FRESH_SECONDS = 0

    second = client.post(f"{base}/workspaces", {"path": url, "sourceType": "git"}, format="json")
    run_jobs()

    assert proxy.connections == 2
    clone = settings.WORKSPACE_DIR / second.json()["id"]
    assert (clone / "later.txt").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("git://127.0.0.1:1/nothing", "Could not clone"),
        ("file://{tmp_path}/not-a-repository", "Could not clone"),
    ],
)
def test_unreachable_or_missing_repositories_end_in_error(client, base, tmp_path, url, message):
    (tmp_path / "not-a-repository").mkdir()
    url = url.format(tmp_path=tmp_path)
    created = client.post(f"{base}/workspaces", {"path": url, "sourceType": "git"}, format="json")
    run_jobs()

    body = client.get(f"{base}/workspaces/{created.json()['id']}").json()
    assert body["status"] == "error"
    assert body["errorMessage"].startswith(message)


def test_a_plain_folder_can_be_made_a_repository(client, base, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "notes.txt").write_text("x\n")

    created = client.post(
        f"{base}/workspaces", {"path": str(folder), "initGit": True}, format="json"
    ).json()
    run_jobs()

    body = client.get(f"{base}/workspaces/{created['id']}").json()
    assert body["commit"] == git(folder, "rev-parse", "HEAD")
    assert git(folder, "ls-files") == "notes.txt"


def test_provider_operations_directly(repo, tmp_path):
    provider = git_provider()
    head = provider.head(repo)

    assert sorted(provider.tree_files(repo, ref=head)) == ["README.md", "logo.bin", "src/app.py"]
    assert provider.read_blob(repo, path="README.md", ref=head) == b"hello\n"
    assert provider.log(repo, ref="HEAD", limit=1)[0]["sha"] == head


def test_a_clone_reports_its_download_while_it_runs_and_forgets_it_once_ready(
    client, base, project, served, repo, settings
):
    for index in range(300):  # enough objects for libgit2 to call back more than once
        (repo / f"file-{index}.txt").write_text(f"content {index}\n" * 20)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "many files")
    settings.CLONE_PROGRESS_SECONDS = 0  # every callback reported
    _, url = served

    created = client.post(f"{base}/workspaces", {"path": url, "sourceType": "git"}, format="json")
    run_jobs()

    updates = [
        event.data
        for event in ProjectEvent.objects.filter(project=project, type="workspace_updated")
    ]
    reported = [update["progress"] for update in updates if "progress" in update]
    assert len(reported) > 1
    assert {update["status"] for update in updates if "progress" in update} == {"cloning"}
    received = [progress["receivedObjects"] for progress in reported]
    assert received == sorted(received)
    last = reported[-1]
    assert last["receivedObjects"] == last["totalObjects"] > 300
    assert last["receivedBytes"] > 0
    shown = client.get(f"{base}/workspaces/{created.json()['id']}").json()
    assert (shown["status"], shown["progress"]) == ("ready", None)


def test_a_workspace_being_cloned_shows_how_far_it_is(client, base, project):
    workspace = WorkspaceFactory.create(project=project, status="cloning")
    progress = CloneProgress(
        received_objects=40,
        total_objects=100,
        indexed_deltas=0,
        total_deltas=0,
        received_bytes=4096,
    )

    workspace_progress_report(workspace, progress)

    shown = client.get(f"{base}/workspaces/{workspace.id}").json()
    assert shown["progress"] == {
        "receivedObjects": 40,
        "totalObjects": 100,
        "indexedDeltas": 0,
        "totalDeltas": 0,
        "receivedBytes": 4096,
    }
