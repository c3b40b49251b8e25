"""API-key credentials (contract §2 Credentials): stored sealed, never shown again."""

from __future__ import annotations

import pytest

from apps.credentials.models import Credential
from apps.credentials.selectors import credential_secret
from tests.credentials.upstream import GOOD_API_KEY

pytestmark = pytest.mark.django_db

INFO_KEYS = {
    "id",
    "provider",
    "name",
    "authType",
    "isConfigured",
    "needsReauth",
    "expiresAt",
    "baseUrl",
    "inputPricePerMillion",
    "outputPricePerMillion",
    "createdAt",
    "updatedAt",
}
SECRET = "sk-ant-api03-very-secret-value"


def store(client, base, provider="anthropic", api_key=SECRET, **extra):
    return client.post(base, {"provider": provider, "apiKey": api_key, **extra}, format="json")


def test_an_api_key_is_stored_sealed_and_never_returned(client, base, all_logs):
    response = store(client, base)

    assert response.status_code == 200
    info = response.json()
    assert set(info) == INFO_KEYS
    assert (info["provider"], info["name"], info["authType"], info["isConfigured"]) == (
        "anthropic",
        "Anthropic",
        "api_key",
        True,
    )
    row = Credential.objects.values().get(id=info["id"])
    assert SECRET.encode() not in bytes(row["encrypted_data"])
    assert SECRET not in str(row)
    assert credential_secret(Credential.objects.get()) == {"api_key": SECRET}
    for path in (base, f"{base}/anthropic"):
        assert SECRET not in client.get(path).content.decode()
    assert SECRET not in all_logs.text


def test_storing_again_replaces_the_key(client, base):
    first = store(client, base).json()
    second = store(client, base, api_key="sk-ant-new", name="Work key").json()

    assert second["id"] == first["id"]
    assert second["name"] == "Work key"
    assert Credential.objects.count() == 1
    assert credential_secret(Credential.objects.get()) == {"api_key": "sk-ant-new"}


@pytest.mark.parametrize("provider", ["openai", "codex", "github-copilot", "gemini", "deepseek"])
def test_contract_and_litellm_providers_are_accepted(client, base, provider):
    assert store(client, base, provider=provider).status_code == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"provider": "anthropic"}, "Api key is required"),
        ({"provider": "anthropic", "apiKey": "   "}, "Api key is required"),
        ({"apiKey": "x"}, "Provider is required"),
        ({"provider": "skynet", "apiKey": "x"}, "Unknown provider: skynet"),
        (
            {"provider": "anthropic", "apiKey": "x", "authType": "oauth"},
            "authType: OAuth credentials come from the OAuth flows",
        ),
    ],
)
def test_bad_credentials_are_400(client, base, body, error):
    response = client.post(base, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert not Credential.objects.exists()


def test_get_and_delete(client, base):
    store(client, base)

    assert client.get(f"{base}/anthropic").json()["provider"] == "anthropic"
    assert client.delete(f"{base}/anthropic").json() == {"status": "deleted"}
    missing = client.get(f"{base}/anthropic")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Credential not found"}
    assert client.delete(f"{base}/anthropic").status_code == 404


def test_another_project_cannot_read_replace_or_delete(client_for, outsider, client, base, project):
    store(client, base)
    intruder = client_for(outsider)

    reads = [intruder.get(base), intruder.get(f"{base}/anthropic")]
    replaced = store(intruder, base, api_key="sk-intruder")
    deleted = intruder.delete(f"{base}/anthropic")

    assert [r.status_code for r in reads] == [404, 404]
    assert (replaced.status_code, deleted.status_code) == (404, 404)
    assert credential_secret(Credential.objects.get(project=project)) == {"api_key": SECRET}


class TestCheckWithProvider:
    def test_a_good_key_checks_out(self, client, base, upstream):
        store(client, base, api_key=GOOD_API_KEY)

        response = client.post(f"{base}/anthropic/test")

        assert response.json() == {"ok": True}
        assert upstream.requests["/anthropic/v1/models"] == 1

    def test_a_bad_key_reports_the_providers_error(self, client, base, upstream, all_logs):
        store(client, base, provider="openai")

        response = client.post(f"{base}/openai/test")

        assert response.json() == {"ok": False, "error": "invalid x-api-key"}
        assert SECRET not in all_logs.text

    def test_providers_without_a_check_say_so(self, client, base):
        store(client, base, provider="gemini")

        response = client.post(f"{base}/gemini/test")

        assert response.status_code == 400
        assert response.json() == {"error": "Testing is not available for gemini"}


class TestActionsAnswerOnlyPost:
    @pytest.mark.parametrize("action", ["refresh", "test"])
    @pytest.mark.parametrize("method", ["get", "delete", "put"])
    def test_other_methods_are_405_and_the_credential_stays(self, client, base, action, method):
        store(client, base)

        response = getattr(client, method)(f"{base}/anthropic/{action}")

        assert response.status_code == 405
        assert response.json() == {"error": f'Method "{method.upper()}" not allowed.'}
        assert response["Allow"] == "POST, OPTIONS"
        assert credential_secret(Credential.objects.get()) == {"api_key": SECRET}

    def test_the_schema_publishes_only_post_for_the_actions(self, client):
        paths = client.get("/api/openapi.json").json()["paths"]

        for action in ("refresh", "test"):
            operations = paths[f"/api/projects/{{project_id}}/credentials/{{provider}}/{action}"]
            assert set(operations) - {"parameters"} == {"post"}


@pytest.mark.parametrize("provider", ["%00", "a%00b", "x" * 51, "%F0%9F%98%80", "a%20b"])
def test_a_provider_name_that_cannot_exist_is_a_json_404(client, base, provider):
    for method in ("get", "delete", "post"):
        suffix = "" if method != "post" else "/test"
        response = getattr(client, method)(f"{base}/{provider}{suffix}")

        assert response.status_code == 404, (method, provider)
        assert "error" in response.json()
