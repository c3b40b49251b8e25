"""Agents and their MCP servers through the HTTP API (contract §2, Agents)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.agents.models import Agent, AgentMCPServer
from apps.agents.selectors import mcp_server_secrets
from tests.agents.factories import AgentFactory
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

AGENT_KEYS = {
    "id",
    "name",
    "description",
    "agentType",
    "systemPrompt",
    "model",
    "mcpServers",
    "isDefault",
}
STDIO = {
    "name": "files",
    "config": {
        "type": "stdio",
        "command": "npx",
        "args": ["-y", "@modelcontextprotocol/server-filesystem"],
        "env": {"API_TOKEN": "s3cr3t-env-value"},
    },
}
STORED_STDIO_SECRETS = {"env": {"API_TOKEN": "s3cr3t-env-value"}}
HTTP = {
    "name": "search",
    "config": {
        "type": "http",
        "url": "https://mcp.example.com/sse",
        "headers": {"Authorization": "Bearer s3cr3t-header"},
    },
    "enabled": False,
}


@pytest.fixture
def client(client_for, member) -> APIClient:
    return client_for(member)


@pytest.fixture
def base(project) -> str:
    return f"/api/projects/{project.id}/agents"


def create(client, base, **body):
    response = client.post(
        base, {"name": "Helper", "agentType": "claude-code", **body}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


class TestCreate:
    def test_first_agent_is_default_and_has_the_contract_shape(self, client, base):
        first = create(client, base, description="Helps", systemPrompt="Be brief")
        second = create(client, base, name="Other")

        assert set(first) == AGENT_KEYS
        assert (first["agentType"], first["systemPrompt"], first["mcpServers"]) == (
            "claude-code",
            "Be brief",
            [],
        )
        assert first["isDefault"] is True
        assert second["isDefault"] is False

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            ({"agentType": "claude-code"}, "Name is required"),
            ({"name": "x"}, "Agent type is required"),
            (
                {"name": "x", "agentType": "hal-9000"},
                'agentType: "hal-9000" is not a valid choice.',
            ),
            ({"name": "x" * 201, "agentType": "codex"}, "name: Ensure this field has no more"),
        ],
    )
    def test_bad_agents_are_refused(self, client, base, body, error):
        response = client.post(base, body, format="json")

        assert response.status_code == 400
        assert response.json()["error"].startswith(error)
        assert not Agent.objects.exists()

    def test_mcp_secrets_are_stored_encrypted_and_never_returned(self, client, base):
        agent = create(client, base, mcpServers=[STDIO, HTTP])

        servers = {s["name"]: s for s in agent["mcpServers"]}
        assert servers["files"]["config"] == {
            "type": "stdio",
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem"],
            "env": {"API_TOKEN": "********"},
        }
        assert servers["search"]["enabled"] is False
        assert servers["search"]["config"]["headers"] == {"Authorization": "********"}
        for row in AgentMCPServer.objects.values():
            assert "s3cr3t" not in str(row)
        stored = AgentMCPServer.objects.get(name="files")
        assert mcp_server_secrets(stored) == {"env": {"API_TOKEN": "s3cr3t-env-value"}}
        listed = client.get(base).content.decode()
        assert "s3cr3t" not in listed

    @pytest.mark.parametrize(
        "server",
        [
            {"name": "x", "config": {"type": "stdio"}},
            {"name": "x", "config": {"type": "stdio", "command": "a", "env": {"A": 1}}},
            {"name": "x", "config": {"type": "stdio", "command": "a", "args": "not-a-list"}},
            {"name": "x", "config": {"type": "http", "url": "ftp://example.com"}},
            {"name": "x", "config": {"type": "http", "url": "https://e.com", "headers": ["a"]}},
            {"name": "x", "config": {"type": "websocket", "url": "wss://e.com"}},
            {"name": "x", "config": "npx server"},
            {"config": {"type": "stdio", "command": "a"}},
            {"name": "x", "config": {"type": "stdio", "command": "a", "extra": 1}},
        ],
    )
    def test_invalid_mcp_configs_are_refused(self, client, base, server):
        response = client.post(
            base,
            {"name": "A", "agentType": "codex", "mcpServers": [server]},
            format="json",
        )

        assert response.status_code == 400, response.content
        assert "error" in response.json()
        assert not Agent.objects.exists()

    def test_mcp_server_names_are_unique_per_agent(self, client, base):
        response = client.post(
            base,
            {"name": "A", "agentType": "codex", "mcpServers": [STDIO, STDIO]},
            format="json",
        )

        assert response.status_code == 400
        assert not Agent.objects.exists()


def server_with(section: str, values: dict) -> dict:
    if section == "env":
        return {"name": "x", "config": {"type": "stdio", "command": "a", "env": values}}
    return {"name": "x", "config": {"type": "http", "url": "https://e.com", "headers": values}}


class TestValuesThatCannotBeStoredOrSent:
    """PostgreSQL refuses NUL in text and lone surrogates; a process environment refuses `=`
    in a name; an HTTP header value must not end the header."""

    @pytest.mark.parametrize(
        ("section", "values"),
        [
            ("env", {"API\x00TOKEN": "v"}),
            ("env", {"API_TOKEN": "v\x00w"}),
            ("env", {"A=B": "v"}),
            ("env", {"": "v"}),
            ("headers", {"X-Key\x00": "v"}),
            ("headers", {"X-Key": "v\x00"}),
            ("headers", {"X-Key": "v\r\nX-Injected: 1"}),
            ("headers", {"Bad Name": "v"}),
        ],
    )
    def test_are_refused_on_create_and_update_naming_the_field(self, client, base, section, values):
        agent = create(client, base, mcpServers=[STDIO])
        server = server_with(section, values)

        created = client.post(
            base, {"name": "B", "agentType": "codex", "mcpServers": [server]}, format="json"
        )
        updated = client.put(f"{base}/{agent['id']}", {"mcpServers": [server]}, format="json")

        for response in (created, updated):
            assert response.status_code == 400
            assert response.json()["error"].startswith(f"mcpServers.0.config.{section}: ")
        assert Agent.objects.count() == 1
        assert mcp_server_secrets(AgentMCPServer.objects.get()) == STORED_STDIO_SECRETS

    @pytest.mark.parametrize(
        "raw",
        [
            '{"API_TOKEN": "\\ud800"}',
            '{"\\udfff": "v"}',
        ],
    )
    def test_lone_surrogates_are_refused_on_create_and_update(self, client, base, raw):
        agent = create(client, base, mcpServers=[STDIO])
        config = f'{{"type": "stdio", "command": "a", "env": {raw}}}'
        servers = f'[{{"name": "x", "config": {config}}}]'

        created = client.post(
            base,
            f'{{"name": "B", "agentType": "codex", "mcpServers": {servers}}}',
            content_type="application/json",
        )
        updated = client.put(
            f"{base}/{agent['id']}",
            f'{{"mcpServers": {servers}}}',
            content_type="application/json",
        )

        for response in (created, updated):
            assert response.status_code == 400
            assert "lone surrogate" in response.json()["error"]
        assert Agent.objects.count() == 1
        assert mcp_server_secrets(AgentMCPServer.objects.get()) == STORED_STDIO_SECRETS

    @pytest.mark.parametrize("servers", [[None], [STDIO, None]])
    def test_a_null_server_is_refused_and_the_set_is_kept(self, client, base, servers):
        agent = create(client, base, mcpServers=[HTTP])

        created = client.post(
            base, {"name": "B", "agentType": "codex", "mcpServers": servers}, format="json"
        )
        updated = client.put(f"{base}/{agent['id']}", {"mcpServers": servers}, format="json")

        for response in (created, updated):
            assert response.status_code == 400
            assert response.json()["error"] == "An MCP server cannot be null"
        assert [server.name for server in AgentMCPServer.objects.all()] == ["search"]


class TestUpdate:
    def test_mcp_servers_are_replaced_as_a_set(self, client, base):
        agent = create(client, base, mcpServers=[STDIO, HTTP])

        response = client.put(f"{base}/{agent['id']}", {"mcpServers": [HTTP]}, format="json")

        assert [s["name"] for s in response.json()["mcpServers"]] == ["search"]
        assert AgentMCPServer.objects.count() == 1

    def test_masked_secrets_sent_back_keep_their_values(self, client, base):
        agent = create(client, base, mcpServers=[STDIO])
        shown = client.get(f"{base}/{agent['id']}").json()["mcpServers"][0]
        shown["config"]["args"] = ["--verbose"]

        client.put(f"{base}/{agent['id']}", {"mcpServers": [shown]}, format="json")

        stored = AgentMCPServer.objects.get(name="files")
        assert stored.config["args"] == ["--verbose"]
        assert mcp_server_secrets(stored) == {"env": {"API_TOKEN": "s3cr3t-env-value"}}

    def test_empty_description_keeps_the_old_one_and_null_clears(self, client, base):
        agent = create(client, base, description="Old", systemPrompt="Prompt")

        kept = client.put(
            f"{base}/{agent['id']}", {"description": "", "name": "New"}, format="json"
        )
        cleared = client.put(f"{base}/{agent['id']}", {"systemPrompt": None}, format="json")

        assert (kept.json()["description"], kept.json()["name"]) == ("Old", "New")
        assert cleared.json()["systemPrompt"] == ""
        assert cleared.json()["mcpServers"] == []

    def test_the_model_changes_and_empty_or_null_goes_back_to_the_types_default(self, client, base):
        agent = create(client, base, model="anthropic/claude-opus-4-1")
        assert agent["model"] == "anthropic/claude-opus-4-1"

        changed = client.put(f"{base}/{agent['id']}", {"model": "openai/gpt-4.1"}, format="json")
        untouched = client.put(f"{base}/{agent['id']}", {"name": "Renamed"}, format="json")
        emptied = client.put(f"{base}/{agent['id']}", {"model": ""}, format="json")
        client.put(f"{base}/{agent['id']}", {"model": "openai/o3"}, format="json")
        nulled = client.put(f"{base}/{agent['id']}", {"model": None}, format="json")

        assert changed.json()["model"] == "openai/gpt-4.1"
        assert untouched.json()["model"] == "openai/gpt-4.1"
        assert (emptied.json()["model"], nulled.json()["model"]) == ("", "")

    def test_an_agent_without_a_model_uses_its_types_default(self, client, base):
        agent = create(client, base)
        types = client.get(f"{base}/types").json()["agentTypes"]

        assert agent["model"] == ""
        assert {t["id"]: t["defaultModel"] for t in types}["claude-code"] == (
            "anthropic/claude-sonnet-4-5"
        )

    @pytest.mark.parametrize("model", ["gpt 4.1", "x" * 201, "gpt\n4", 41])
    def test_a_model_that_cannot_be_a_model_id_is_400(self, client, base, model):
        response = client.post(
            base, {"name": "A", "agentType": "codex", "model": model}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["error"].startswith("model: ")
        assert not Agent.objects.exists()

    def test_unknown_agent_is_404(self, client, base):
        response = client.put(f"{base}/6f1c7a52-0000-4000-8000-000000000000", {}, format="json")

        assert response.status_code == 404
        assert response.json() == {"error": "Agent not found"}


class TestDefaultAndDelete:
    def test_set_default(self, client, base):
        first = create(client, base)
        second = create(client, base, name="Second")

        response = client.post(f"{base}/default", {"agentId": second["id"]}, format="json")

        assert response.json() == {"success": True}
        defaults = {a["id"]: a["isDefault"] for a in client.get(base).json()["agents"]}
        assert defaults == {first["id"]: False, second["id"]: True}

    def test_deleting_the_default_promotes_the_next_and_keeps_sessions(self, client, base, project):
        first = create(client, base)
        second = create(client, base, name="Second")
        session = SessionFactory.create(
            workspace=WorkspaceFactory.create(project=project), agent_id=first["id"]
        )

        response = client.delete(f"{base}/{first['id']}")

        assert response.json() == {"success": True}
        assert client.get(f"{base}/{second['id']}").json()["isDefault"] is True
        session.refresh_from_db()
        assert session.agent_id is None

    def test_default_of_another_project_is_404(self, client, base, other_project):
        foreign = AgentFactory.create(project=other_project)

        response = client.post(f"{base}/default", {"agentId": str(foreign.id)}, format="json")

        assert response.status_code == 404
        foreign.refresh_from_db()
        assert foreign.is_default is False


def test_agent_types_list_the_contract_ids_with_their_providers(client, base):
    types = {t["id"]: t for t in client.get(f"{base}/types").json()["agentTypes"]}

    assert set(types) == {
        "claude-code",
        "opencode",
        "gemini-cli",
        "aider",
        "continue",
        "cursor-agent",
        "codex",
        "copilot-cli",
    }
    assert types["claude-code"]["supportedAuthProviders"] == ["anthropic"]
    assert types["opencode"]["supportedAuthProviders"] == ["*"]
    assert types["opencode"]["allowNoAuth"] is True
    assert types["codex"]["supportedAuthProviders"] == ["openai", "codex"]
    assert all(t["defaultModel"] for t in types.values())


def test_list_query_count_is_fixed(client, base, project, django_assert_num_queries):
    for _ in range(3):
        AgentFactory.create(project=project)

    with django_assert_num_queries(6):  # session, user, membership, project, agents, servers
        response = client.get(base)

    assert len(response.json()["agents"]) == 3


def test_another_projects_agents_are_404(client, base, other_project):
    foreign = AgentFactory.create(project=other_project, name="Theirs")

    for method in ("get", "put", "delete"):
        response = getattr(client, method)(f"{base}/{foreign.id}", {"name": "x"}, format="json")
        assert response.status_code == 404
    assert client.get(base).json() == {"agents": []}
    foreign.refresh_from_db()
    assert foreign.name == "Theirs"
