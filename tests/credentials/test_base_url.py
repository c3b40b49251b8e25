"""A credential's base URL (issue 13, contract additions): an OpenAI- or Anthropic-compatible
endpoint its key is used at, shown in CredentialInfo, checked before it is stored."""

from __future__ import annotations

import pytest

from apps.credentials.models import Credential
from apps.credentials.providers import endpoint_api
from apps.credentials.selectors import credential_auth_headers

pytestmark = pytest.mark.django_db

OLLAMA = "http://localhost:11434/v1"


def store(client, base, **body):
    return client.post(base, {"provider": "ollama", "apiKey": "ollama", **body}, format="json")


def test_a_base_url_is_stored_in_clear_and_shown(client, base):
    response = store(client, base, baseUrl=OLLAMA)

    assert response.status_code == 200
    assert response.json()["baseUrl"] == OLLAMA
    assert client.get(f"{base}/ollama").json()["baseUrl"] == OLLAMA
    assert Credential.objects.get().base_url == OLLAMA


def test_without_a_base_url_the_providers_own_endpoint_is_used(client, base):
    assert store(client, base).json()["baseUrl"] is None
    assert store(client, base, baseUrl="").json()["baseUrl"] is None


def test_storing_the_key_again_without_a_base_url_drops_it(client, base):
    store(client, base, baseUrl=OLLAMA)

    assert store(client, base).json()["baseUrl"] is None
    assert Credential.objects.get().base_url == ""


@pytest.mark.parametrize(
    ("base_url", "error"),
    [
        ("ftp://models.example.com", "baseUrl: enter an http or https URL"),
        ("localhost:11434", "baseUrl: enter an http or https URL"),
        (
            "https://me:sk-secret@gateway.example.com/v1",
            "baseUrl: no user or password in the URL; send the key as apiKey",
        ),
        ("https://gateway.example.com/v1?key=1", "baseUrl: no query or fragment"),
        ("https://gateway.example.com/v1#top", "baseUrl: no query or fragment"),
        ("http://", "baseUrl: enter an http or https URL with a valid host"),
        ("http://bad_host/v1", "baseUrl: enter an http or https URL with a valid host"),
        ("http://host/with space", "baseUrl: enter an http or https URL with a valid host"),
        ("https://e.com/" + "a" * 2000, "baseUrl: Ensure this field has no more than 2000"),
    ],
)
def test_a_base_url_that_cannot_be_used_is_refused_with_its_reason(client, base, base_url, error):
    response = store(client, base, baseUrl=base_url)

    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert not Credential.objects.exists()


def test_the_secret_never_lands_in_the_stored_url(client, base):
    store(client, base, baseUrl="https://me:sk-secret@gateway.example.com/v1")

    assert not Credential.objects.filter(base_url__contains="sk-secret").exists()


def test_anthropic_endpoints_speak_messages_and_every_other_speaks_openai(client, base):
    store(client, base, provider="anthropic", apiKey="sk-ant", baseUrl="https://gw.example.com")
    store(client, base, provider="hosted_vllm", apiKey="sk-v", baseUrl="http://vllm:8000/v1")
    anthropic = Credential.objects.get(provider="anthropic")
    vllm = Credential.objects.get(provider="hosted_vllm")

    assert (endpoint_api(anthropic.provider), endpoint_api(vllm.provider)) == (
        "anthropic",
        "openai",
    )
    assert credential_auth_headers(credential=anthropic, token="sk-ant")["x-api-key"] == "sk-ant"
    assert credential_auth_headers(credential=vllm, token="sk-v") == {
        "Authorization": "Bearer sk-v"
    }


def test_another_project_cannot_point_the_key_elsewhere(client_for, outsider, client, base):
    store(client, base, baseUrl=OLLAMA)

    response = store(client_for(outsider), base, baseUrl="http://evil.example.com/v1")

    assert response.status_code == 404
    assert Credential.objects.get().base_url == OLLAMA


def test_a_base_url_credential_carries_its_own_prices_per_million_tokens(client, base):
    response = store(
        client, base, baseUrl=OLLAMA, inputPricePerMillion=0.5, outputPricePerMillion=2
    )

    assert response.status_code == 200
    assert (response.json()["inputPricePerMillion"], response.json()["outputPricePerMillion"]) == (
        0.5,
        2.0,
    )
    assert store(client, base, baseUrl=OLLAMA).json()["inputPricePerMillion"] is None


@pytest.mark.parametrize("price", [-1, "cheap"])
def test_a_price_is_a_number_not_below_zero(client, base, price):
    response = store(client, base, baseUrl=OLLAMA, inputPricePerMillion=price)

    assert response.status_code == 400
    assert "error" in response.json()
