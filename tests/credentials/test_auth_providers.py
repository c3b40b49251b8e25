"""The provider catalogue the credentials dialog offers (`GET .../agents/auth-providers`)."""

from __future__ import annotations

import pytest

from apps.credentials.models import Credential
from apps.credentials.providers import litellm_providers

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue_url(project) -> str:
    return f"/api/projects/{project.id}/agents/auth-providers"


@pytest.fixture
def catalogue(client, catalogue_url) -> dict[str, dict]:
    response = client.get(catalogue_url)
    assert response.status_code == 200
    return {entry["id"]: entry for entry in response.json()["authProviders"]}


def test_entries_have_the_shape_the_web_app_reads(catalogue):
    for entry in catalogue.values():
        assert (
            {"id", "name", "description"}
            <= set(entry)
            <= {
                "id",
                "name",
                "description",
                "env",
                "icons",
            }
        )
        assert entry["name"]
        assert all(name and name == name.upper() for name in entry.get("env", []))
        assert all(icon["src"].startswith("https://") for icon in entry.get("icons", []))


def test_api_key_providers_name_their_key_variables(catalogue):
    assert "ANTHROPIC_API_KEY" in catalogue["anthropic"]["env"]
    assert "OPENAI_API_KEY" in catalogue["openai"]["env"]
    assert "GEMINI_API_KEY" in catalogue["gemini"]["env"]


def test_the_catalogue_comes_from_litellms_providers(catalogue):
    import litellm

    conversational = {
        provider
        for provider, models in litellm.models_by_provider.items()
        if any(litellm.model_cost.get(m, {}).get("mode") == "chat" for m in models)
        and provider in litellm_providers()
    }
    # Less litellm's names of the sign-in providers, which appear under the credentials' names.
    assert conversational - {"chatgpt", "github_copilot"} <= set(catalogue)


def test_sign_in_providers_and_custom_endpoints_are_offered(catalogue):
    assert {"anthropic", "codex", "github-copilot", "custom_openai"} <= set(catalogue)
    assert "chatgpt" not in catalogue
    assert "github_copilot" not in catalogue
    # A git token drives no model.
    assert "github" not in catalogue


def test_the_contracts_providers_come_first(client, catalogue_url):
    ids = [entry["id"] for entry in client.get(catalogue_url).json()["authProviders"]]

    assert set(ids[:4]) == {"anthropic", "openai", "codex", "github-copilot"}


def test_every_entry_can_be_stored_as_a_credential(client, project, catalogue):
    base = f"/api/projects/{project.id}/credentials"
    for provider in catalogue:
        response = client.post(base, {"provider": provider, "apiKey": "k-123"}, format="json")
        assert response.status_code == 200, (provider, response.content)

    assert set(Credential.objects.values_list("provider", flat=True)) == set(catalogue)


def test_an_outsider_gets_404(client_for, outsider, catalogue_url):
    response = client_for(outsider).get(catalogue_url)

    assert response.status_code == 404
    assert "error" in response.json()


def test_anonymous_mode_reads_the_local_project(anonymous_client):
    response = anonymous_client.get("/api/projects/local/agents/auth-providers")

    assert response.status_code == 200
    assert response.json()["authProviders"]
