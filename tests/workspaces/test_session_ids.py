"""Session ids are the client's, unique within a project (issue 10, item 14): whether another
project holds an id never changes the answer, and two sessions of the same id in two projects
each keep their own working copy, jobs, files, diff, commits and deletion."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.chat.models import Message
from apps.core.models import Job
from apps.projects.models import ProjectEvent
from apps.terminal.models import TerminalHistory
from apps.workspaces.models import Session
from tests.chat.factories import MessageFactory
from tests.jobs import run_jobs
from tests.terminal.factories import TerminalHistoryFactory
from tests.workspaces.conftest import git_repository, head_of

pytestmark = pytest.mark.django_db


class Side:
    """One project's view: its client, its base path, its repository and its workspace."""

    def __init__(self, client, project, repo: Path) -> None:
        self.client = client
        self.project = project
        self.base = f"/api/projects/{project.id}"
        self.repo = repo
        created = client.post(f"{self.base}/workspaces", {"path": str(repo)}, format="json")
        assert created.status_code == 201, created.json()
        self.workspace = created.json()["id"]

    def create_session(self, session_id: str = "abc"):
        return self.client.post(
            f"{self.base}/sessions",
            {"id": session_id, "workspaceId": self.workspace},
            format="json",
        )

    def session(self, session_id: str = "abc") -> str:
        return f"{self.base}/sessions/{session_id}"

    def get(self, url: str, **params):
        return self.client.get(url, params)

    def write(self, name: str, content: str) -> None:
        response = self.client.put(
            f"{self.session()}/files/write", {"path": name, "content": content}, format="json"
        )
        assert response.status_code == 200, response.json()


@pytest.fixture
def ours(client_for, member, project, tmp_path) -> Side:
    return Side(client_for(member), project, git_repository(tmp_path / "ours"))


@pytest.fixture
def theirs(client_for, outsider, other_project, tmp_path) -> Side:
    return Side(client_for(outsider), other_project, git_repository(tmp_path / "theirs"))


@pytest.fixture
def both(ours, theirs) -> tuple[Side, Side]:
    """Both projects hold a ready session `abc`."""
    assert theirs.create_session().status_code == 201
    assert ours.create_session().status_code == 201
    run_jobs()
    for side in (ours, theirs):
        assert side.get(side.session()).json()["status"] == "ready"
    return ours, theirs


def test_an_id_another_project_holds_is_created_like_any_new_id(ours, theirs):
    assert theirs.create_session("abc").status_code == 201

    taken_elsewhere = ours.create_session("abc")
    fresh = ours.create_session("never-used")

    assert taken_elsewhere.status_code == fresh.status_code == 201
    assert taken_elsewhere.json()["projectId"] == ours.project.id
    assert taken_elsewhere.json()["workspaceId"] == ours.workspace


def test_the_same_id_twice_in_one_project_is_409(ours, theirs):
    theirs.create_session("abc")
    assert ours.create_session("abc").status_code == 201

    again = ours.create_session("abc")

    assert again.status_code == 409
    assert again.json() == {"error": "A session with this id already exists"}
    assert Session.objects.filter(id="abc").count() == 2


def test_each_project_sees_its_own_session(both):
    for side in both:
        body = side.get(side.session()).json()
        assert (body["projectId"], body["workspaceId"]) == (side.project.id, side.workspace)
        workspace = side.get(f"{side.base}/workspaces/{side.workspace}").json()
        assert [s["id"] for s in workspace["sessions"]] == ["abc"]


def test_working_copies_are_apart_on_the_same_branch_name(both):
    copies = [Path(side.get(side.session()).json()["workspacePath"]) for side in both]

    assert copies[0] != copies[1]
    for side, copy in zip(both, copies, strict=True):
        assert head_of(copy) == head_of(side.repo)
        assert (copy / ".git" / "refs" / "heads" / "discobot" / "abc").exists()


def test_files_and_diff_are_each_sessions_own(both):
    ours, theirs = both
    ours.write("ours.txt", "ours\n")
    theirs.write("theirs.txt", "theirs\n")

    for side, name, other in ((ours, "ours.txt", "theirs.txt"), (theirs, "theirs.txt", "ours.txt")):
        read = side.get(f"{side.session()}/files/read", path=name)
        assert read.status_code == 200
        assert side.get(f"{side.session()}/files/read", path=other).status_code == 404
        diff = side.get(f"{side.session()}/diff").json()
        assert [f["path"] for f in diff["files"]] == [name]


def test_a_pending_commit_in_one_project_does_not_block_the_other(both):
    ours, theirs = both
    ours.write("ours.txt", "ours\n")
    theirs.write("theirs.txt", "theirs\n")

    first = theirs.client.post(f"{theirs.session()}/commit")
    second = ours.client.post(f"{ours.session()}/commit")

    assert (first.status_code, second.status_code) == (200, 200)
    run_jobs()
    for side, name in ((ours, "ours.txt"), (theirs, "theirs.txt")):
        body = side.get(side.session()).json()
        assert (body["commitStatus"], body["appliedCommit"]) == ("completed", head_of(side.repo))
        assert (side.repo / name).exists()
    assert not (ours.repo / "theirs.txt").exists()
    assert not (theirs.repo / "ours.txt").exists()


def test_deleting_one_leaves_the_other_whole(both):
    ours, theirs = both
    their_session = Session.objects.get(project=theirs.project, id="abc")
    kept = [
        MessageFactory.create(session=their_session),
        TerminalHistoryFactory.create(session=their_session),
    ]
    MessageFactory.create(session=Session.objects.get(project=ours.project, id="abc"))
    TerminalHistoryFactory.create(session=Session.objects.get(project=ours.project, id="abc"))
    their_copy = Path(theirs.get(theirs.session()).json()["workspacePath"])
    our_copy = Path(ours.get(ours.session()).json()["workspacePath"])

    assert ours.client.delete(ours.session()).status_code == 200
    run_jobs()

    assert ours.get(ours.session()).status_code == 404
    assert not our_copy.exists()
    assert theirs.get(theirs.session()).json()["status"] == "ready"
    assert their_copy.is_dir()
    assert theirs.get(f"{theirs.session()}/files/read", path="README.md").status_code == 200
    assert list(Message.objects.all()) == kept[:1]
    assert list(TerminalHistory.objects.all()) == kept[1:]


def test_events_and_jobs_name_the_client_id_in_each_project(both):
    for side in both:
        events = ProjectEvent.objects.filter(project=side.project, type="session_updated")
        assert {event.data["sessionId"] for event in events} == {"abc"}
        jobs = Job.objects.filter(project=side.project, type="session_init")
        assert [job.resource_id for job in jobs] == ["abc"]
