"""Names people show each other hold no control, bidi or zero-width characters: they are
dropped (line breaks become spaces) and the name trimmed; a required name with nothing left
is refused. One field type does it for every name of the API."""

from __future__ import annotations

import pytest

from tests.agents.factories import AgentFactory
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

# Bidi embedding and isolates, zero-width space, word joiner, BOM, NUL, a tab, a line break.
DIRTY = "\u202a Team\u200b \u2066Rocket\u2069\x00\t2\ufeff\u2060\n"
CLEAN = "Team Rocket 2"
INVISIBLE = "\u202e\u200b\u200f\x00\u2067 \ufeff"
STDIO = {"type": "stdio", "command": "run"}


def mcp_server_named(name: str) -> dict:
    return {"name": "Agent", "agentType": "codex", "mcpServers": [{"name": name, "config": STDIO}]}


# (method, path, body for a name, where the name is in the answer, whether it is required)
NAMES = {
    "project": ("post", "/api/projects", lambda n: {"name": n}, "name", True),
    "project rename": ("put", "/api/projects/{project}", lambda n: {"name": n}, "name", True),
    "agent": (
        "post",
        "/api/projects/{project}/agents",
        lambda n: {"name": n, "agentType": "codex"},
        "name",
        True,
    ),
    "agent rename": (
        "put",
        "/api/projects/{project}/agents/{agent}",
        lambda n: {"name": n},
        "name",
        True,
    ),
    "mcp server": (
        "post",
        "/api/projects/{project}/agents",
        mcp_server_named,
        "mcpServers.0.name",
        True,
    ),
    "credential": (
        "post",
        "/api/projects/{project}/credentials",
        lambda n: {"provider": "openai", "apiKey": "sk-1", "name": n},
        "name",
        False,
    ),
    "api token": ("post", "/api/tokens", lambda n: {"name": n}, "name", True),
    "workspace": (
        "put",
        "/api/projects/{project}/workspaces/{workspace}",
        lambda n: {"displayName": n},
        "displayName",
        False,
    ),
    "session rename": (
        "put",
        "/api/projects/{project}/sessions/{session}",
        lambda n: {"name": n},
        "name",
        True,
    ),
    "session display name": (
        "put",
        "/api/projects/{project}/sessions/{session}",
        lambda n: {"displayName": n},
        "displayName",
        False,
    ),
}


@pytest.fixture
def client(client_for, owner):
    return client_for(owner)


@pytest.fixture
def urls(project) -> dict[str, str]:
    workspace = WorkspaceFactory.create(project=project)
    return {
        "project": project.id,
        "agent": str(AgentFactory.create(project=project).id),
        "workspace": str(workspace.id),
        "session": SessionFactory.create(workspace=workspace).id,
    }


def answer_field(body: dict, where: str) -> object:
    for key in where.split("."):
        body = body[int(key)] if isinstance(body, list) else body[key]
    return body


@pytest.mark.parametrize("resource", NAMES)
def test_invisible_and_control_characters_are_dropped(client, urls, resource):
    method, path, body, where, _ = NAMES[resource]

    response = getattr(client, method)(path.format(**urls), body(DIRTY), format="json")

    assert response.status_code in (200, 201), response.content
    assert answer_field(response.json(), where) == CLEAN


@pytest.mark.parametrize("resource", [name for name, case in NAMES.items() if case[4]])
def test_a_required_name_of_nothing_visible_is_refused(client, urls, resource):
    method, path, body, _, _ = NAMES[resource]

    response = getattr(client, method)(path.format(**urls), body(INVISIBLE), format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "Name is required"


def test_a_first_message_of_several_lines_names_the_session_on_one(client, urls):
    response = client.post(
        f"/api/projects/{urls['project']}/sessions",
        {"id": "session-new", "workspaceId": urls["workspace"], "name": DIRTY},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["name"] == CLEAN
