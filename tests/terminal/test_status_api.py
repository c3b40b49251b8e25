"""`GET /api/projects/{pid}/sessions/{sid}/terminal/status` (contract §5)."""

from __future__ import annotations

import pytest

from apps.workspaces.models import SessionStatus
from apps.workspaces.sandboxes import session_sandbox_provider, session_sandbox_start
from tests.sandbox.conftest import CLOSED_DOCKER_HOST
from tests.workspaces.factories import SessionFactory, WorkspaceFactory


def status_url(project_id: str, session_id: str) -> str:
    return f"/api/projects/{project_id}/sessions/{session_id}/terminal/status"


@pytest.fixture
def session(project, tmp_path):
    workspace = WorkspaceFactory.create(project=project, provider="local")
    copy = tmp_path / "copy"
    copy.mkdir()
    return SessionFactory.create(
        workspace=workspace, status=SessionStatus.READY, workspace_path=str(copy)
    )


def test_a_session_without_a_sandbox_is_not_created(client_for, member, session):
    response = client_for(member).get(status_url(session.project_id, session.id))

    assert response.status_code == 200
    assert response.json() == {"status": "not_created"}


def test_a_started_sandbox_is_running_with_its_image_and_times(client_for, member, session):
    session_sandbox_start(session)
    try:
        body = client_for(member).get(status_url(session.project_id, session.id)).json()
    finally:
        session_sandbox_provider(session).remove(str(session.uuid))

    assert body["status"] == "running"
    assert body["image"] == "local"
    assert body["createdAt"] <= body["startedAt"]
    assert "stoppedAt" not in body


def test_a_stopped_sandbox_says_when_it_stopped(client_for, member, session):
    provider = session_sandbox_start(session)
    provider.stop(str(session.uuid))
    try:
        body = client_for(member).get(status_url(session.project_id, session.id)).json()
    finally:
        provider.remove(str(session.uuid))

    assert body["status"] == "stopped"
    assert body["startedAt"] <= body["stoppedAt"]


def test_no_provider_that_can_run_it_is_unavailable(client_for, member, project, settings):
    settings.DOCKER_HOST = CLOSED_DOCKER_HOST
    settings.LOCAL_PROVIDER_ENABLED = False
    workspace = WorkspaceFactory.create(project=project, provider="docker")
    session = SessionFactory.create(workspace=workspace, status=SessionStatus.READY)

    body = client_for(member).get(status_url(project.id, session.id)).json()

    assert body["status"] == "unavailable"
    assert "Docker" in body["error"] or "docker" in body["error"]


def test_an_outsider_gets_404(client_for, outsider, session):
    response = client_for(outsider).get(status_url(session.project_id, session.id))

    assert response.status_code == 404


def test_an_unknown_session_is_404(client_for, member, project):
    response = client_for(member).get(status_url(project.id, "no-such-session"))

    assert response.status_code == 404
    assert response.json() == {"error": "Session not found"}
