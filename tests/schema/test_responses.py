"""Every answer the server can give is one its schema declares (issue 10, item 16), and the
answers that said the wrong thing now say the right one."""

from __future__ import annotations

import pytest

from apps.agents.models import Agent
from apps.credentials.models import AuthType, Credential
from apps.credentials.services import credential_store
from apps.workspaces.models import Workspace
from tests.schema.published import operation, published_schema
from tests.workspaces.factories import WorkspaceFactory

UNSAFE = {"post", "put", "patch", "delete"}


def operations():
    for path, item in published_schema()["paths"].items():
        for method, described in item.items():
            if method != "parameters":
                yield method, path, described


def test_every_operation_declares_the_refusals_any_request_of_its_kind_can_get():
    missing = []
    for method, path, described in operations():
        schemes = {name for requirement in described.get("security", []) for name in requirement}
        where = {parameter["in"] for parameter in described.get("parameters", [])}
        expected = set()
        if schemes:
            expected |= {"401", "429"}  # a refused login; a guessing address's bearer token
        if "cookieAuth" in schemes and method in UNSAFE:
            expected.add("403")  # a browser session's request without its CSRF token
        if "path" in where:
            expected.add("404")
        if "requestBody" in described:
            expected |= {"400", "413", "415"}
        if "query" in where:
            expected.add("400")
        missing += [(method, path, code) for code in expected - set(described["responses"])]

    assert not missing


def test_the_schema_is_openapi_3_1_so_map_keys_have_rules():
    config = published_schema()["components"]["schemas"]["StdioConfigRequest"]

    assert published_schema()["openapi"].startswith("3.1")
    assert config["properties"]["env"]["propertyNames"] == {"pattern": "^[^=\\u0000]+$"}
    assert config["additionalProperties"] is False


def test_mcp_configs_are_one_of_stdio_or_http_by_their_type():
    config = published_schema()["components"]["schemas"]["MCPServerConfigRequest"]

    assert config["discriminator"] == {
        "propertyName": "type",
        "mapping": {
            "stdio": "#/components/schemas/StdioConfigRequest",
            "http": "#/components/schemas/HttpConfigRequest",
        },
    }


@pytest.mark.django_db
class TestAnswers:
    @pytest.fixture
    def client(self, client_for, member):
        return client_for(member)

    @pytest.fixture
    def base(self, project) -> str:
        return f"/api/projects/{project.id}"

    def test_refreshing_an_api_key_is_a_conflict_with_the_credential_not_a_bad_request(
        self, client, base
    ):
        client.post(f"{base}/credentials", {"provider": "openai", "apiKey": "sk-1"}, format="json")

        response = client.post(f"{base}/credentials/openai/refresh")

        assert response.status_code == 409
        assert response.json() == {"error": "Only OAuth credentials can be refreshed"}
        assert (
            "409"
            in operation("post", "/api/projects/{project_id}/credentials/{provider}/refresh")[
                "responses"
            ]
        )

    def test_testing_a_key_no_http_header_can_carry_says_so_instead_of_failing(
        self, client, base, project
    ):
        credential_store(
            project=project,
            provider="anthropic",
            secret={"api_key": "sk-\U000c556a-key"},
            auth_type=AuthType.API_KEY,
        )

        response = client.post(f"{base}/credentials/anthropic/test")

        assert response.status_code == 200
        assert response.json() == {
            "ok": False,
            "error": "The key holds characters an HTTP header cannot carry",
        }
        assert Credential.objects.filter(project=project).count() == 1

    def test_a_masked_secret_with_nothing_stored_to_keep_is_a_conflict(self, client, base):
        server = {
            "name": "tools",
            "config": {"type": "stdio", "command": "run", "env": {"TOKEN": "********"}},
        }

        response = client.post(
            f"{base}/agents",
            {"name": "A", "agentType": "aider", "mcpServers": [server]},
            format="json",
        )

        assert response.status_code == 409
        assert response.json() == {"error": "env.TOKEN needs a value: none is stored"}
        assert not Agent.objects.exists()

    @pytest.mark.parametrize("value", ["yes", "1", "TRUE", ""])
    def test_delete_files_is_true_or_false_and_nothing_else(self, client, base, project, value):
        workspace = WorkspaceFactory.create(project=project)

        response = client.delete(f"{base}/workspaces/{workspace.id}?deleteFiles={value}")

        assert response.status_code == 400
        assert response.json()["error"].startswith("deleteFiles: ")
        assert Workspace.objects.filter(id=workspace.id).exists()

    def test_delete_files_is_stated_as_a_boolean_parameter(self):
        described = operation("delete", "/api/projects/{project_id}/workspaces/{workspace_id}")

        [delete_files] = [p for p in described["parameters"] if p["name"] == "deleteFiles"]
        assert (delete_files["in"], delete_files["schema"]["type"]) == ("query", "boolean")
