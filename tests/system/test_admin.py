"""The admin site: every model is there for an operator, and no secret is ever displayed."""

from __future__ import annotations

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import api_token_create, preference_set
from apps.agents.models import AgentMCPServer
from apps.chat.models import ChatChunk, ChatTurn, TurnUsage
from apps.core.jobs import job_enqueue
from apps.credentials.models import Credential
from apps.limits.models import Limit, LimitUsage
from apps.projects.models import ProjectInvitation
from apps.services.models import ServiceRun
from apps.terminal.models import TerminalTranscript
from apps.workspaces.models import (
    JobType,
    SandboxUse,
    SandboxUseKind,
    SessionAction,
    SessionActionKind,
)
from tests.accounts.factories import UserFactory
from tests.agents.factories import MCPServerFactory
from tests.chat.factories import MessageFactory
from tests.credentials.factories import CredentialFactory
from tests.projects.factories import EventFactory, InvitationFactory, MemberFactory
from tests.terminal.factories import TerminalHistoryFactory
from tests.workspaces.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

SECRET_TOKEN = "f" * 64
SECRET_API_KEY = "sk-ant-very-secret-value"
SECRET_HEADER = "Bearer mcp-secret-header"


@pytest.fixture
def operator_client() -> Client:
    client = Client()
    client.force_login(
        UserFactory.create(email="ops@example.com", is_staff=True, is_superuser=True)
    )
    return client


@pytest.fixture
def one_of_everything(project):
    MemberFactory.create(project=project)
    session_client = Client()
    session_client.force_login(UserFactory.create())
    api_token_create(user=UserFactory.create(), name="ci")
    preference_set(user=UserFactory.create(), key="preferredIDE", value="vscode")
    InvitationFactory.create(project=project, token=SECRET_TOKEN)
    EventFactory.create(project=project)
    WorkspaceFactory.create(project=project)
    job_enqueue(
        project_id=project.id,
        type=JobType.WORKSPACE_INIT,
        resource_type="workspace",
        resource_id="w",
    )
    CredentialFactory.create(project=project, encrypted_data=SECRET_API_KEY.encode())
    message = MessageFactory.create(session__workspace__project=project)
    TerminalHistoryFactory.create(session=message.session)
    SandboxUse.objects.create(
        session=message.session, kind=SandboxUseKind.TERMINAL, expires_at=timezone.now()
    )
    TerminalTranscript.objects.create(session=message.session)
    turn = ChatTurn.objects.create(session=message.session, message_id="answer")
    ChatChunk.objects.create(turn=turn, seq=1, data={"type": "start"})
    TurnUsage.objects.create(project=project, session=message.session, message_id="answer")
    SessionAction.objects.create(session=message.session, kind=SessionActionKind.TOOL_CALL)
    ServiceRun.objects.create(session=message.session, service_id="web", status="stopped")
    Limit.objects.create(project=project, metric="cost", window="day", amount=10)
    LimitUsage.objects.create(
        project=project, metric="cost", window="day", period_start=timezone.now()
    )
    MCPServerFactory.create(
        agent__project=project,
        config={"type": "http", "url": "http://127.0.0.1:9", "headers": {"X": SECRET_HEADER}},
    )


def admin_url(model, action: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def test_every_model_has_a_working_list_and_change_page(operator_client, one_of_everything):
    models = [
        model
        for config in django_apps.get_app_configs()
        if config.name.startswith("apps.")
        for model in config.get_models()
    ]
    assert len(models) >= 14
    for model in models:
        assert model in admin.site._registry, model
        listing = operator_client.get(admin_url(model, "changelist"))
        assert listing.status_code == 200, model
        searched = operator_client.get(admin_url(model, "changelist"), {"q": "x"})
        assert searched.status_code == 200, model
        instance = model._default_manager.first()
        assert instance is not None, model
        change = operator_client.get(admin_url(model, "change", instance.pk))
        assert change.status_code == 200, model


@pytest.mark.parametrize(
    ("model", "secret"),
    [
        (ProjectInvitation, SECRET_TOKEN),
        (Credential, SECRET_API_KEY),
        (AgentMCPServer, SECRET_HEADER),
    ],
)
def test_no_secret_appears_on_any_admin_page(operator_client, one_of_everything, model, secret):
    instance = model._default_manager.get()
    hidden = [secret]
    if model is ProjectInvitation:
        hidden.append(instance.token_hash)

    pages = [
        operator_client.get(admin_url(model, "changelist")),
        operator_client.get(admin_url(model, "change", instance.pk)),
    ]

    for page in pages:
        assert page.status_code == 200
        for value in hidden:
            assert value not in page.content.decode()


def test_operator_can_create_a_user_from_the_admin(operator_client):
    response = operator_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "new@example.com", "usable_password": "false"},
    )

    assert response.status_code == 302
    assert not User.objects.get(email="new@example.com").has_usable_password()
