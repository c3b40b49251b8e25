"""The data model's guarantees: cascades, uniqueness and id rules."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.agents.models import Agent, AgentMCPServer
from apps.chat.models import Message
from apps.credentials.models import Credential
from apps.projects.models import ProjectEvent, ProjectInvitation, ProjectMember, Role
from apps.terminal.models import TerminalHistory
from apps.workspaces.models import Session, Workspace
from tests.agents.factories import AgentFactory, MCPServerFactory
from tests.chat.factories import MessageFactory
from tests.credentials.factories import CredentialFactory
from tests.projects.factories import EventFactory, InvitationFactory, MemberFactory
from tests.terminal.factories import TerminalHistoryFactory
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

# Every kind of row that lives under a project, with the path from it to its project.
PROJECT_CONTENT = {
    Workspace: "project",
    Session: "project",
    Agent: "project",
    AgentMCPServer: "agent__project",
    Message: "session__project",
    TerminalHistory: "session__project",
    Credential: "project",
    ProjectEvent: "project",
    ProjectInvitation: "project",
    ProjectMember: "project",
}


def rows_of(project) -> dict[str, int]:
    return {
        model.__name__: model._default_manager.filter(**{path: project}).count()
        for model, path in PROJECT_CONTENT.items()
    }


def fill(project) -> None:
    """One row of every kind that lives under a project."""
    agent = AgentFactory.create(project=project, is_default=True)
    MCPServerFactory.create(agent=agent)
    session = SessionFactory.create(workspace=WorkspaceFactory.create(project=project), agent=agent)
    MessageFactory.create(session=session)
    TerminalHistoryFactory.create(session=session)
    CredentialFactory.create(project=project)
    EventFactory.create(project=project)
    InvitationFactory.create(project=project)


def test_deleting_a_project_through_the_api_removes_everything_under_it(
    client_for, owner, project, other_project
):
    fill(project)
    fill(other_project)
    other_before = rows_of(other_project)
    assert all(rows_of(project).values())

    response = client_for(owner).delete(f"/api/projects/{project.id}")

    assert response.status_code == 200
    assert not any(rows_of(project).values())
    assert rows_of(other_project) == other_before


def test_a_user_is_a_member_of_a_project_at_most_once(project, member):
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory.create(project=project, user=member, role=Role.ADMIN)


def test_an_email_has_one_open_invitation_per_project(project):
    InvitationFactory.create(project=project, email="x@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        InvitationFactory.create(project=project, email="x@example.com")


def test_a_project_has_one_credential_per_provider(project):
    CredentialFactory.create(project=project, provider="openai")
    with pytest.raises(IntegrityError), transaction.atomic():
        CredentialFactory.create(project=project, provider="openai")


def test_a_project_has_at_most_one_default_agent(project):
    AgentFactory.create(project=project, is_default=True)
    AgentFactory.create(project=project, is_default=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        AgentFactory.create(project=project, is_default=True)


def test_event_seq_is_unique_within_a_project(project, other_project):
    EventFactory.create(project=project, seq=1)
    EventFactory.create(project=other_project, seq=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory.create(project=project, seq=1)


def test_a_message_id_is_unique_within_a_session():
    message = MessageFactory.create()
    MessageFactory.create(message_id=message.message_id)  # another session: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageFactory.create(session=message.session, message_id=message.message_id)


@pytest.mark.parametrize("session_id", ["abc", "A-1-b", "x" * 65, "0123-4567"])
def test_client_generated_session_ids_are_accepted(session_id):
    SessionFactory.build(id=session_id, workspace=WorkspaceFactory.create()).full_clean()


@pytest.mark.parametrize("session_id", ["", "x" * 66, "a_b", "a b", "a/b", "ünï"])
def test_malformed_session_ids_are_refused(session_id):
    session = SessionFactory.build(id=session_id, workspace=WorkspaceFactory.create())
    with pytest.raises(ValidationError):
        session.full_clean()


def test_deleting_a_user_keeps_invitations_they_sent(project, admin):
    invitation = InvitationFactory.create(project=project, invited_by=admin)

    admin.delete()

    invitation.refresh_from_db()
    assert invitation.invited_by is None
