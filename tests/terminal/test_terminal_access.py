"""Who may open a session's terminal: the access layer of every project WebSocket, and the
session looked up in the project. Through the real ASGI application."""

from __future__ import annotations

import pytest

from apps.projects.consumers import CLOSE_NOT_FOUND
from apps.workspaces.models import SessionStatus
from tests.websockets import session_cookie, websocket_outcome
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def terminal_path(project_id: str, session_id: str) -> str:
    return f"/api/projects/{project_id}/sessions/{session_id}/terminal/ws?rows=24&cols=80"


@pytest.fixture
def session(project):
    workspace = WorkspaceFactory.create(project=project, provider="local")
    return SessionFactory.create(workspace=workspace, status=SessionStatus.READY)


def test_an_outsider_is_told_the_project_is_missing(auth_enabled, session, outsider):
    outcome = websocket_outcome(
        terminal_path(session.project_id, session.id), session=session_cookie(outsider)
    )

    assert outcome.close_code == CLOSE_NOT_FOUND


def test_a_session_of_another_project_is_missing(auth_enabled, session, other_project, outsider):
    outcome = websocket_outcome(
        terminal_path(other_project.id, session.id), session=session_cookie(outsider)
    )

    assert outcome.close_code == CLOSE_NOT_FOUND


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
def test_a_page_on_a_foreign_site_is_refused_at_the_handshake(
    auth_enabled, session, member, origin
):
    outcome = websocket_outcome(
        terminal_path(session.project_id, session.id),
        session=session_cookie(member),
        origin=origin,
    )

    assert not outcome.accepted


def test_a_session_still_being_set_up_is_an_error_frame_and_a_close(auth_enabled, member, project):
    workspace = WorkspaceFactory.create(project=project, provider="local")
    session = SessionFactory.create(workspace=workspace, status=SessionStatus.CLONING)

    outcome = websocket_outcome(
        terminal_path(project.id, session.id), session=session_cookie(member)
    )

    assert outcome.message == {"type": "error", "data": "The session is still being set up"}
