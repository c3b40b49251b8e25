"""A provider that repeats secrets back in its errors: no member ever reads them from us."""

from __future__ import annotations

import pytest

from apps.credentials.models import Credential
from apps.credentials.selectors import credential_secret
from discobot.redaction import mask_secrets
from tests.agents.factories import AgentFactory

pytestmark = pytest.mark.django_db

API_KEY = "sk-proj-0123456789abcdefwxyz"
OTHER_KEY = "sk-ant-api03-another-secret-key"
MCP_SECRET = "mcp-env-secret-value-42"


def echo_whole(sent: str) -> str:
    return f"Incorrect API key provided: {sent}"


def echo_starred(sent: str) -> str:
    """How OpenAI words it: the start and the end of the key, starred in between."""
    return f"Incorrect API key provided: {sent[:8]}{'*' * 10}{sent[-4:]}"


def store(client, base, provider: str, api_key: str) -> None:
    response = client.post(base, {"provider": provider, "apiKey": api_key}, format="json")
    assert response.status_code == 200


class TestCredentialCheck:
    def test_a_repeated_key_shows_only_its_last_characters(self, client, base, upstream, all_logs):
        store(client, base, "openai", API_KEY)
        upstream.echo = echo_whole

        response = client.post(f"{base}/openai/test")

        assert response.json() == {"ok": False, "error": "Incorrect API key provided: …wxyz"}
        assert API_KEY not in all_logs.text

    def test_a_starred_key_loses_its_start_too(self, client, base, upstream):
        store(client, base, "openai", API_KEY)
        upstream.echo = echo_starred

        error = client.post(f"{base}/openai/test").json()["error"]

        assert error == "Incorrect API key provided: ********" + "*" * 10 + "wxyz"

    def test_every_secret_of_the_project_is_masked(self, client, base, upstream, project):
        store(client, base, "openai", API_KEY)
        store(client, base, "anthropic", OTHER_KEY)
        agent = AgentFactory.create(project=project)
        response = client.put(
            f"/api/projects/{project.id}/agents/{agent.id}",
            {
                "mcpServers": [
                    {
                        "name": "tools",
                        "config": {"type": "stdio", "command": "x", "env": {"T": MCP_SECRET}},
                    }
                ]
            },
            format="json",
        )
        assert response.status_code == 200
        upstream.echo = lambda sent: f"{sent} is not {OTHER_KEY}, nor {MCP_SECRET}"

        error = client.post(f"{base}/openai/test").json()["error"]

        assert error == "…wxyz is not …-key, nor …e-42"


class TestOAuthFlows:
    @pytest.fixture
    def anthropic_oauth(self, client, base, upstream) -> Credential:
        answer = client.post(f"{base}/anthropic/authorize").json()
        code = upstream.grant_code(answer["codeChallenge"])
        client.post(
            f"{base}/anthropic/exchange",
            {"code": code, "verifier": answer["verifier"]},
            format="json",
        )
        return Credential.objects.get(provider="anthropic")

    def test_a_refused_refresh_names_no_token(
        self, client, base, upstream, anthropic_oauth, all_logs
    ):
        refresh_token = credential_secret(anthropic_oauth)["refresh_token"]
        upstream.refresh_tokens.clear()
        upstream.echo = lambda sent: f"refresh token {sent} was revoked"

        response = client.post(f"{base}/anthropic/refresh")

        assert response.status_code == 409
        assert response.json() == {
            "error": f"Refresh failed, authorize again: refresh token …{refresh_token[-4:]} "
            "was revoked"
        }
        assert client.get(f"{base}/anthropic").json()["needsReauth"] is True
        assert "was revoked" in all_logs.text
        assert refresh_token not in all_logs.text

    def test_a_refused_anthropic_code_is_not_repeated(self, client, base, upstream):
        verifier = client.post(f"{base}/anthropic/authorize").json()["verifier"]
        upstream.echo = lambda sent: f"code {sent} is not valid"

        response = client.post(
            f"{base}/anthropic/exchange",
            {"code": "pasted-code-0123456789", "verifier": verifier},
            format="json",
        )

        assert response.json() == {"success": False, "error": "code …6789 is not valid"}

    def test_a_refused_codex_code_is_not_repeated(self, client, base, upstream):
        verifier = client.post(f"{base}/codex/authorize", {}, format="json").json()["verifier"]
        upstream.echo = lambda sent: f"code {sent} is not valid"

        response = client.post(
            f"{base}/codex/exchange",
            {"code": "codex-code-0123456789", "verifier": verifier},
            format="json",
        )

        assert response.status_code == 400
        assert response.json() == {"error": "Token exchange failed: code …6789 is not valid"}

    def test_a_refused_device_code_is_not_repeated(self, client, base, upstream):
        upstream.echo = lambda sent: f"device code {sent} is unknown"

        response = client.post(
            f"{base}/github-copilot/poll", {"deviceCode": "device-code-0123456789"}, format="json"
        )

        assert response.status_code == 400
        assert response.json() == {"error": "device code …6789 is unknown"}


class TestMaskSecrets:
    @pytest.mark.parametrize(
        ("text", "masked"),
        [
            ("no secret here", "no secret here"),
            (f"key {API_KEY}.", "key …wxyz."),
            (f"key {API_KEY[:12]}...", "key ********..."),
            (f"key ...{API_KEY[9:20]}...", "key ...********..."),
            (f"{API_KEY}{API_KEY}", "********"),
            ("the tail wxyz alone is fine", "the tail wxyz alone is fine"),
        ],
    )
    def test_whole_keys_and_pieces_of_them(self, text, masked):
        assert mask_secrets(text, [API_KEY]) == masked

    def test_a_short_secret_is_masked_whole_and_a_tiny_one_not_at_all(self):
        assert mask_secrets("port 8080 user bob1234", ["bob1234", "808"]) == (
            "port 8080 user ********"
        )
