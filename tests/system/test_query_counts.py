"""Every list endpoint answers in a fixed number of queries, however many rows it lists: an N+1
(a query per listed row) fails here. Each test lists one row and twenty with the same count.

A count is what the caller costs (CALLER: the session and its user) plus, under a project, the
membership check (ACCESS), plus the endpoint's own reads, named beside each number."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.services import api_token_create
from apps.projects.models import Project, Role
from discobot.asgi import application
from tests.accounts.factories import UserFactory
from tests.agents.factories import AgentFactory, MCPServerFactory
from tests.credentials.factories import CredentialFactory
from tests.projects.factories import EventFactory, MemberFactory, ProjectFactory
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

CALLER = 2  # the Django session, its user
ACCESS = 2  # the caller's membership, its project
ROWS = [1, 20]

ClientFor = Callable[[User], APIClient]


def listed(client: APIClient, url: str, key: str | None, rows: int) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body[key] if key else body) == rows


@pytest.mark.parametrize("rows", ROWS)
def test_projects(rows, member, client_for: ClientFor, django_assert_num_queries):
    for project in ProjectFactory.create_batch(rows):
        MemberFactory.create(project=project, user=member, role=Role.MEMBER)

    client = client_for(member)
    with django_assert_num_queries(CALLER + 1):  # the projects
        listed(client, "/api/projects", None, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_members(rows, project, member, client_for: ClientFor, django_assert_num_queries):
    MemberFactory.create_batch(rows, project=project, role=Role.MEMBER)

    client = client_for(member)
    with django_assert_num_queries(CALLER + ACCESS + 1):  # the members with their users
        listed(client, f"/api/projects/{project.id}/members", None, rows + 3)


@pytest.mark.parametrize("rows", ROWS)
def test_workspaces(rows, project, member, client_for: ClientFor, django_assert_num_queries):
    WorkspaceFactory.create_batch(rows, project=project)

    client = client_for(member)
    with django_assert_num_queries(CALLER + ACCESS + 1):  # the workspaces
        listed(client, f"/api/projects/{project.id}/workspaces", "workspaces", rows)


@pytest.mark.parametrize("rows", ROWS)
def test_sessions_of_a_workspace(
    rows, project, member, client_for: ClientFor, django_assert_num_queries
):
    workspace = WorkspaceFactory.create(project=project)
    SessionFactory.create_batch(rows, workspace=workspace)
    url = f"/api/projects/{project.id}/workspaces/{workspace.id}/sessions"

    client = client_for(member)
    with django_assert_num_queries(CALLER + ACCESS + 2):  # the workspace, its sessions
        listed(client, url, "sessions", rows)


@pytest.mark.parametrize("rows", ROWS)
def test_credentials(rows, project, member, client_for: ClientFor, django_assert_num_queries):
    for index in range(rows):
        CredentialFactory.create(project=project, provider=f"provider-{index}")

    client = client_for(member)
    with django_assert_num_queries(CALLER + ACCESS + 1):  # the credentials
        listed(client, f"/api/projects/{project.id}/credentials", "credentials", rows)


@pytest.mark.parametrize("rows", ROWS)
def test_agents(rows, project, member, client_for: ClientFor, django_assert_num_queries):
    for agent in AgentFactory.create_batch(rows, project=project):
        MCPServerFactory.create_batch(2, agent=agent)

    client = client_for(member)
    with django_assert_num_queries(CALLER + ACCESS + 2):  # the agents, their MCP servers
        listed(client, f"/api/projects/{project.id}/agents", "agents", rows)


@pytest.mark.parametrize("rows", ROWS)
def test_api_tokens(rows, member, client_for: ClientFor, django_assert_num_queries):
    for index in range(rows):
        api_token_create(user=member, name=f"token {index}")

    client = client_for(member)
    with django_assert_num_queries(CALLER + 1):  # the tokens
        listed(client, "/api/tokens", None, rows)


@contextmanager
def queries_on_every_thread() -> Iterator[list[str]]:
    """The SQL of every connection opened meanwhile: a stream reads on threads of its own, which
    `django_assert_num_queries` (the test thread's connection) does not see."""
    executed: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        executed.append(sql)
        return execute(sql, params, many, context)

    instrumented: list[BaseDatabaseWrapper] = []

    def instrument(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        if record not in connection.execute_wrappers:
            connection.execute_wrappers.append(record)
            instrumented.append(connection)

    instrument(sender=None, connection=connection)
    connection_created.connect(instrument)
    try:
        yield executed
    finally:
        connection_created.disconnect(instrument)
        for wrapper in instrumented:
            wrapper.execute_wrappers.remove(record)


async def events_replayed(cookie: str, project: Project, count: int) -> bytes:
    """What a stream opened after seq 0 sends up to its `count`th event, through the real ASGI
    application; then the client goes away, as a browser tab does."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/api/projects/{project.id}/events",
        "raw_path": f"/api/projects/{project.id}/events".encode(),
        "root_path": "",
        "query_string": b"after=0",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"accept", b"text/event-stream"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3001),
    }
    server = ApplicationCommunicator(application, scope)
    await server.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await server.receive_output(timeout=30)
    assert start["status"] == 200, start
    body = b""
    while body.count(b"\n\n") < count + 1:  # `connected`, then the events
        body += (await server.receive_output(timeout=30)).get("body", b"")
    await server.send_input({"type": "http.disconnect"})
    await server.wait(timeout=30)
    return body


# Committed rows: the stream reads on other threads' connections. serialized_rollback restores
# the seeded rows (the `local` project, content types) for the tests after it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("rows", ROWS)
def test_event_replay(rows, auth_enabled):
    member = UserFactory.create()
    project = ProjectFactory.create()
    MemberFactory.create(project=project, user=member, role=Role.MEMBER)
    for seq in range(1, rows + 1):
        EventFactory.create(project=project, seq=seq)
    Project.objects.filter(id=project.id).update(last_event_seq=rows)

    client = Client()
    client.force_login(member)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value

    with queries_on_every_thread() as executed:
        body = async_to_sync(events_replayed)(cookie, project, rows)

    assert body.count(b"event: workspace_updated") == rows
    # The caller; its membership; the newest seq, then one batch of events (up to 500).
    assert len(executed) == CALLER + ACCESS + 2, executed
