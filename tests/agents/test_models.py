"""The models an agent or a session can use (issue 13, contract additions): from the project's
credentials, an endpoint's own list for a credential with a base URL, litellm's otherwise."""

from __future__ import annotations

import socket

import pytest
from rest_framework.test import APIClient

from apps.agents.models import AgentType
from tests.agents.factories import AgentFactory
from tests.agents.model_endpoint import KEY, model_endpoint
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

MODEL_KEYS = {"id", "display_name", "provider", "created_at", "type", "reasoning"}


@pytest.fixture
def client(client_for, member) -> APIClient:
    return client_for(member)


@pytest.fixture
def base(project) -> str:
    return f"/api/projects/{project.id}"


@pytest.fixture
def endpoint():
    with model_endpoint() as running:
        yield running


def connect(client, base, provider, api_key=KEY, **extra):
    body = {"provider": provider, "apiKey": api_key, **extra}
    response = client.post(f"{base}/credentials", body, format="json")
    assert response.status_code == 200, response.content


def models_of(client, base, agent):
    response = client.get(f"{base}/agents/{agent.id}/models")
    assert response.status_code == 200, response.content
    return {model["id"]: model for model in response.json()["models"]}


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class TestFromAnEndpoint:
    def test_an_openai_compatible_endpoint_lists_its_models_under_the_credentials_name(
        self, client, base, project, endpoint
    ):
        connect(client, base, "ollama", baseUrl=f"{endpoint.url}/openai/v1")
        agent = AgentFactory.create(project=project, agent_type=AgentType.OPENCODE)

        models = models_of(client, base, agent)

        assert set(models) == {"ollama/llama3.2", "ollama/o3"}
        assert models["ollama/llama3.2"] == {
            "id": "ollama/llama3.2",
            "display_name": "llama3.2",
            "provider": "ollama",
            "created_at": "2023-11-14T22:13:20Z",
            "type": "model",
            "reasoning": False,
        }
        # litellm knows o3 as a reasoning model.
        assert models["ollama/o3"]["reasoning"] is True

    def test_an_anthropic_endpoint_is_asked_in_anthropics_way(
        self, client, base, project, endpoint
    ):
        connect(client, base, "anthropic", baseUrl=f"{endpoint.url}/anthropic")
        agent = AgentFactory.create(project=project, agent_type=AgentType.CLAUDE_CODE)

        models = models_of(client, base, agent)

        assert list(models) == ["anthropic/claude-sonnet-4-5"]
        assert models["anthropic/claude-sonnet-4-5"]["display_name"] == "Claude Sonnet 4.5"
        assert models["anthropic/claude-sonnet-4-5"]["created_at"] == "2025-09-29T00:00:00Z"
        assert endpoint.calls["/anthropic/v1/models"] == 1

    def test_a_key_the_endpoint_refuses_lists_nothing(self, client, base, project, endpoint):
        connect(client, base, "ollama", api_key="sk-wrong", baseUrl=f"{endpoint.url}/openai/v1")
        agent = AgentFactory.create(project=project, agent_type=AgentType.OPENCODE)

        assert models_of(client, base, agent) == {}
        assert endpoint.calls["/openai/v1/models"] == 1

    def test_the_list_is_kept_briefly_and_asked_again_once_the_credential_changes(
        self, client, base, project, endpoint
    ):
        connect(client, base, "ollama", baseUrl=f"{endpoint.url}/openai/v1")
        agent = AgentFactory.create(project=project, agent_type=AgentType.OPENCODE)

        models_of(client, base, agent)
        models_of(client, base, agent)
        assert endpoint.calls["/openai/v1/models"] == 1

        connect(client, base, "ollama", api_key="sk-wrong", baseUrl=f"{endpoint.url}/openai/v1")
        assert models_of(client, base, agent) == {}
        assert endpoint.calls["/openai/v1/models"] == 2


class TestUnreachableEndpoints:
    def test_an_endpoint_that_refuses_connections_is_an_empty_list_and_nothing_else_breaks(
        self, client, base, project
    ):
        connect(client, base, "ollama", baseUrl=closed_port_url())
        connect(client, base, "openai", api_key="sk-openai")
        agent = AgentFactory.create(project=project, agent_type=AgentType.OPENCODE)

        models = models_of(client, base, agent)

        assert models
        assert {model["provider"] for model in models.values()} == {"openai"}

    def test_an_endpoint_too_slow_to_answer_is_given_up(
        self, client, base, project, endpoint, settings
    ):
        settings.MODEL_LIST_TIMEOUT_SECONDS = 0.5
        endpoint.open.clear()
        connect(client, base, "ollama", baseUrl=f"{endpoint.url}/openai/v1")
        agent = AgentFactory.create(project=project, agent_type=AgentType.OPENCODE)

        assert models_of(client, base, agent) == {}
        assert endpoint.calls["/openai/v1/models"] == 1


class TestFromLitellm:
    def test_a_credential_without_a_base_url_lists_litellms_chat_models_of_its_provider(
        self, client, base, project
    ):
        connect(client, base, "anthropic", api_key="sk-ant")
        agent = AgentFactory.create(project=project, agent_type=AgentType.CLAUDE_CODE)

        models = models_of(client, base, agent)

        assert all(set(model) == MODEL_KEYS for model in models.values())
        assert {model["provider"] for model in models.values()} == {"anthropic"}
        sonnet = models["anthropic/claude-sonnet-4-5"]
        assert (sonnet["display_name"], sonnet["reasoning"], sonnet["created_at"]) == (
            "claude-sonnet-4-5",
            True,
            None,
        )

    def test_only_chat_models_are_listed(self, client, base, project):
        connect(client, base, "openai", api_key="sk-openai")
        agent = AgentFactory.create(project=project, agent_type=AgentType.CODEX)

        models = models_of(client, base, agent)

        assert "openai/gpt-4.1" in models
        assert not any("embedding" in model_id or "dall-e" in model_id for model_id in models)

    def test_an_agent_sees_only_the_providers_its_type_supports(self, client, base, project):
        connect(client, base, "anthropic", api_key="sk-ant")
        connect(client, base, "openai", api_key="sk-openai")
        connect(client, base, "github", api_key="ghp_token")
        claude = AgentFactory.create(project=project, agent_type=AgentType.CLAUDE_CODE)
        opencode = AgentFactory.create(project=project, agent_type=AgentType.OPENCODE)

        claude_models = models_of(client, base, claude)
        opencode_models = models_of(client, base, opencode)

        assert {model["provider"] for model in claude_models.values()} == {"anthropic"}
        assert {model["provider"] for model in opencode_models.values()} == {"anthropic", "openai"}

    def test_a_credential_that_needs_a_new_authorization_drives_no_model(
        self, client, base, project
    ):
        connect(client, base, "anthropic", api_key="sk-ant")
        project.credentials.update(needs_reauth=True)
        agent = AgentFactory.create(project=project, agent_type=AgentType.CLAUDE_CODE)

        assert models_of(client, base, agent) == {}


class TestSessionModels:
    def test_a_session_lists_the_models_of_its_agent(self, client, base, project):
        connect(client, base, "anthropic", api_key="sk-ant")
        connect(client, base, "openai", api_key="sk-openai")
        agent = AgentFactory.create(project=project, agent_type=AgentType.CODEX)
        session = SessionFactory.create(workspace__project=project, agent=agent)

        response = client.get(f"{base}/sessions/{session.id}/models")

        assert response.status_code == 200
        assert {model["provider"] for model in response.json()["models"]} == {"openai"}

    def test_a_session_without_an_agent_lists_those_of_the_projects_default_agent(
        self, client, base, project
    ):
        connect(client, base, "anthropic", api_key="sk-ant")
        connect(client, base, "openai", api_key="sk-openai")
        AgentFactory.create(project=project, agent_type=AgentType.CLAUDE_CODE, is_default=True)
        session = SessionFactory.create(workspace__project=project)

        models = client.get(f"{base}/sessions/{session.id}/models").json()["models"]

        assert {model["provider"] for model in models} == {"anthropic"}

    def test_a_project_without_credentials_has_no_models(self, client, base, project):
        session = SessionFactory.create(workspace__project=project)

        assert client.get(f"{base}/sessions/{session.id}/models").json() == {"models": []}


class TestIsolation:
    def test_an_outsider_gets_404_for_both_lists(self, client_for, outsider, base, project):
        agent = AgentFactory.create(project=project)
        session = SessionFactory.create(workspace__project=project, agent=agent)
        intruder = client_for(outsider)

        for path in (f"agents/{agent.id}/models", f"sessions/{session.id}/models"):
            response = intruder.get(f"{base}/{path}")
            assert response.status_code == 404, path
            assert "error" in response.json()

    def test_another_projects_agent_or_session_is_not_found_here(self, client, base):
        other_workspace = WorkspaceFactory.create()
        agent = AgentFactory.create(project=other_workspace.project)
        session = SessionFactory.create(workspace=other_workspace, agent=agent)

        agent_answer = client.get(f"{base}/agents/{agent.id}/models")
        session_answer = client.get(f"{base}/sessions/{session.id}/models")

        assert (agent_answer.status_code, agent_answer.json()) == (
            404,
            {"error": "Agent not found"},
        )
        assert (session_answer.status_code, session_answer.json()) == (
            404,
            {"error": "Session not found"},
        )
