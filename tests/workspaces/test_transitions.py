"""A workspace's and a session's status change through one function each, by one table: what
the table allows is saved and announced once; anything else is refused (409 for a client)."""

from __future__ import annotations

import pytest

from apps.core.models import Job
from apps.projects.models import ProjectEvent
from apps.workspaces.models import (
    CommitStatus,
    JobType,
    Session,
    SessionStatus,
    Workspace,
    WorkspaceStatus,
)
from apps.workspaces.selectors import job_session
from apps.workspaces.services import (
    session_commit_transition,
    session_transition,
    workspace_transition,
)
from apps.workspaces.tasks import job_failure
from apps.workspaces.transitions import (
    COMMIT_TRANSITIONS,
    SESSION_TRANSITIONS,
    WORKSPACE_TRANSITIONS,
    By,
    IllegalTransition,
)
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def events(project_id: str) -> list[tuple[str, dict]]:
    return [
        (e.type, e.data) for e in ProjectEvent.objects.filter(project_id=project_id).order_by("seq")
    ]


class TestEveryAllowedChangeIsAnnouncedOnce:
    @pytest.mark.parametrize(("current", "to"), sorted(WORKSPACE_TRANSITIONS))
    def test_workspace(self, current, to):
        workspace = WorkspaceFactory.create(status=current)

        workspace_transition(workspace, to, reason="boom")

        workspace.refresh_from_db()
        assert workspace.status == to
        assert workspace.error_message == ("boom" if to == WorkspaceStatus.ERROR else "")
        assert events(workspace.project_id) == [
            ("workspace_updated", {"workspaceId": str(workspace.id), "status": to})
        ]

    @pytest.mark.parametrize(("current", "to"), sorted(SESSION_TRANSITIONS))
    def test_session(self, current, to):
        session = SessionFactory.create(status=current)

        session_transition(session, to, reason="boom")

        session.refresh_from_db()
        assert session.status == to
        assert session.error_message == ("boom" if to == SessionStatus.ERROR else "")
        assert events(session.project_id) == [
            ("session_updated", {"sessionId": session.id, "status": to, "commitStatus": ""})
        ]

    @pytest.mark.parametrize(("current", "to"), sorted(COMMIT_TRANSITIONS))
    def test_session_commit(self, current, to):
        session = SessionFactory.create(status=SessionStatus.READY, commit_status=current)

        session_commit_transition(session, to, reason="boom")

        session.refresh_from_db()
        assert session.commit_status == to
        assert session.commit_error == ("boom" if to == CommitStatus.FAILED else "")
        assert events(session.project_id) == [
            ("session_updated", {"sessionId": session.id, "status": "ready", "commitStatus": to})
        ]


class TestEnteringAStateStartsItsJob:
    def test_a_session_asked_to_reinitialize_queues_its_setup(self):
        session = SessionFactory.create(status=SessionStatus.STOPPED)

        session_transition(session, SessionStatus.REINITIALIZING, by=By.CLIENT)

        job = Job.objects.get()
        assert (job.type, job.resource_id) == (JobType.SESSION_INIT, session.id)

    def test_a_stopped_session_queues_nothing(self):
        session = SessionFactory.create(status=SessionStatus.READY)

        session_transition(session, SessionStatus.STOPPED, by=By.CLIENT)

        assert not Job.objects.exists()


class TestRefusedChanges:
    def test_the_system_may_not_make_a_change_the_table_lacks(self):
        session = SessionFactory.create(status=SessionStatus.STOPPED)

        with pytest.raises(IllegalTransition, match="from stopped to initializing"):
            session_transition(session, SessionStatus.INITIALIZING)

        assert Session.objects.get(pk=session.pk).status == SessionStatus.STOPPED
        assert events(session.project_id) == []

    def test_a_workspace_in_error_is_only_prepared_again(self):
        workspace = WorkspaceFactory.create(status=WorkspaceStatus.ERROR)

        with pytest.raises(IllegalTransition):
            workspace_transition(workspace, WorkspaceStatus.READY, commit="abc")

        assert Workspace.objects.get(pk=workspace.pk).status == WorkspaceStatus.ERROR

    def test_a_client_may_not_make_the_systems_changes(self):
        session = SessionFactory.create(status=SessionStatus.INITIALIZING)

        with pytest.raises(IllegalTransition):
            session_transition(session, SessionStatus.READY, by=By.CLIENT)

    @pytest.mark.parametrize(
        ("current", "requested"),
        [
            ("initializing", "ready"),
            ("ready", "removing"),
            ("ready", "error"),
            ("error", "ready"),
            ("stopped", "stopped"),
        ],
    )
    def test_through_the_api_they_are_409(self, client_for, member, project, current, requested):
        session = SessionFactory.create(workspace__project=project, status=current)
        url = f"/api/projects/{project.id}/sessions/{session.id}"

        response = client_for(member).patch(url, {"status": requested}, format="json")

        if current == requested:  # no change asked for: nothing happens, nothing is announced
            assert response.status_code == 200
        else:
            assert response.status_code == 409
            assert response.json() == {
                "error": f"Cannot change status from {current} to {requested}"
            }
        assert Session.objects.get(pk=session.pk).status == current
        assert events(project.id) == []


class TestJobFailure:
    def failed_setup(self, session: Session) -> None:
        """What the worker does when a session's setup fails for good."""
        job = Job(
            project_id=session.project_id,
            type=JobType.SESSION_INIT,
            resource_type="session",
            resource_id=session.id,
            error="clone failed",
        )
        job_failure(job_session, session_transition, SessionStatus.ERROR)(job)

    def test_moves_the_jobs_resource_to_its_error_state(self):
        session = SessionFactory.create(status=SessionStatus.INITIALIZING)

        self.failed_setup(session)

        session.refresh_from_db()
        assert (session.status, session.error_message) == ("error", "clone failed")
        assert len(events(session.project_id)) == 1

    def test_leaves_a_resource_that_moved_on_as_it_is(self):
        session = SessionFactory.create(status=SessionStatus.REMOVING)

        self.failed_setup(session)

        assert Session.objects.get(pk=session.pk).status == SessionStatus.REMOVING
        assert events(session.project_id) == []
