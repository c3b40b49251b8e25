"""The three OAuth flows end to end against a local provider on 127.0.0.1 (contract §2)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from apps.credentials.models import Credential
from apps.credentials.selectors import credential_secret
from apps.credentials.services import credential_access_token
from tests.credentials.upstream import challenge_of

pytestmark = pytest.mark.django_db


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def assert_sealed(credential: Credential, *values: str) -> None:
    raw = bytes(Credential.objects.values_list("encrypted_data", flat=True).get(id=credential.id))
    for value in values:
        assert value.encode() not in raw


class TestAnthropic:
    def authorize(self, client, base) -> dict:
        response = client.post(f"{base}/anthropic/authorize")
        assert response.status_code == 200
        return response.json()

    def test_authorize_builds_the_pkce_url(self, client, base, upstream, settings):
        answer = self.authorize(client, base)

        assert set(answer) == {"url", "state", "verifier", "codeChallenge", "codeChallengeMethod"}
        assert answer["codeChallengeMethod"] == "S256"
        assert answer["state"] == answer["verifier"]
        assert answer["codeChallenge"] == challenge_of(answer["verifier"])
        assert answer["url"].startswith(settings.ANTHROPIC_AUTHORIZE_URL + "?")
        assert query_of(answer["url"]) == {
            "code": "true",
            "response_type": "code",
            "client_id": settings.ANTHROPIC_CLIENT_ID,
            "redirect_uri": settings.ANTHROPIC_REDIRECT_URI,
            "scope": "org:create_api_key user:profile user:inference",
            "state": answer["verifier"],
            "code_challenge": answer["codeChallenge"],
            "code_challenge_method": "S256",
        }

    def test_exchange_of_the_pasted_code_stores_the_tokens(self, client, base, upstream, all_logs):
        answer = self.authorize(client, base)
        code = upstream.grant_code(answer["codeChallenge"])

        response = client.post(
            f"{base}/anthropic/exchange",
            {"code": f"{code}#{answer['state']}", "verifier": answer["verifier"]},
            format="json",
        )

        body = response.json()
        assert response.status_code == 200
        assert body["success"] is True
        assert (body["credential"]["provider"], body["credential"]["authType"]) == (
            "anthropic",
            "oauth",
        )
        assert body["credential"]["name"] == "Anthropic OAuth"
        assert body["expiresIn"] == 3600
        assert body["expiresAt"]
        sent = upstream.bodies[-1]
        assert sent == {
            "code": code,
            "state": answer["state"],
            "grant_type": "authorization_code",
            "client_id": sent["client_id"],
            "redirect_uri": sent["redirect_uri"],
            "code_verifier": answer["verifier"],
        }
        credential = Credential.objects.get(provider="anthropic")
        secret = credential_secret(credential)
        assert secret["access_token"] in upstream.access_tokens
        assert_sealed(credential, secret["access_token"], secret["refresh_token"])
        assert secret["access_token"] not in response.content.decode()
        assert secret["access_token"] not in all_logs.text

    def test_an_upstream_refusal_is_200_with_success_false(self, client, base, upstream):
        answer = self.authorize(client, base)

        response = client.post(
            f"{base}/anthropic/exchange",
            {"code": "stolen#x", "verifier": answer["verifier"]},
            format="json",
        )

        assert response.status_code == 200
        assert response.json() == {"success": False, "error": "Invalid code"}
        assert not Credential.objects.exists()

    def test_a_wrong_verifier_is_refused_upstream(self, client, base, upstream):
        answer = self.authorize(client, base)
        code = upstream.grant_code(answer["codeChallenge"])

        response = client.post(
            f"{base}/anthropic/exchange", {"code": code, "verifier": "guess"}, format="json"
        )

        assert response.json()["success"] is False

    @pytest.mark.parametrize("body", [{}, {"code": "x"}, {"verifier": "y"}])
    def test_missing_fields_are_400(self, client, base, body):
        response = client.post(f"{base}/anthropic/exchange", body, format="json")

        assert response.status_code == 400


class TestCopilotDeviceFlow:
    def test_device_code_on_github_com(self, client, base, upstream):
        response = client.post(f"{base}/github-copilot/device-code", {}, format="json")

        assert response.status_code == 200
        assert response.json() == {
            "deviceCode": "device-123",
            "userCode": "WDJB-MJHT",
            "verificationUri": f"{upstream.base_url}/login/device",
            "expiresIn": 900,
            "interval": 5,
            "domain": "github.com",
        }
        assert upstream.requests["/github/login/device/code"] == 1

    def test_device_code_on_an_enterprise_host(self, client, base, upstream):
        host = urlsplit(upstream.base_url).netloc

        response = client.post(
            f"{base}/github-copilot/device-code",
            {"deploymentType": "enterprise", "enterpriseUrl": f"https://{host}/"},
            format="json",
        )

        assert response.json()["domain"] == host
        assert upstream.requests["/login/device/code"] == 1

    @pytest.mark.parametrize(
        "url",
        [
            "https://",
            "a" * 300,
            f"https://{'a' * 64}.example",
            "ghe example",
            "ghe.example:99999",
            "http://[ghe.example",
            "https://user@ghe.example",
        ],
    )
    def test_a_bad_enterprise_url_is_400(self, client, base, upstream, url):
        response = client.post(
            f"{base}/github-copilot/device-code",
            {"deploymentType": "enterprise", "enterpriseUrl": url},
            format="json",
        )

        assert response.status_code == 400
        assert response.json() == {
            "error": "enterpriseUrl must be a GitHub Enterprise host name or URL"
        }
        assert not upstream.requests

    @pytest.mark.parametrize(
        "domain", ["a" * 300, f"{'a' * 64}.example", "ghe example", "ghe.example/x", "ghe..x", "²"]
    )
    def test_polling_a_domain_that_cannot_be_a_host_is_400(self, client, base, upstream, domain):
        response = client.post(
            f"{base}/github-copilot/poll",
            {"deviceCode": "device-123", "domain": domain},
            format="json",
        )

        assert response.status_code == 400
        assert response.json() == {"error": "domain must be github.com or a GitHub Enterprise host"}
        assert not upstream.requests

    def test_polling_a_domain_with_nul_is_400(self, client, base, upstream):
        response = client.post(
            f"{base}/github-copilot/poll",
            {"deviceCode": "device-123", "domain": "ghe\x00.example"},
            format="json",
        )

        assert response.status_code == 400
        assert response.json()["error"].startswith("domain: ")
        assert not upstream.requests

    @pytest.mark.parametrize(
        ("outcome", "status", "body"),
        [
            ("authorization_pending", 202, {"status": "pending", "error": "authorization_pending"}),
            ("slow_down", 429, {"status": "slow_down", "error": "slow_down"}),
            ("expired_token", 410, {"status": "error", "error": "expired_token"}),
            ("access_denied", 403, {"status": "error", "error": "access_denied"}),
            ("unsupported_grant_type", 400, {"error": "unsupported grant type"}),
        ],
    )
    def test_every_waiting_and_error_branch(self, client, base, upstream, outcome, status, body):
        upstream.device_outcomes["device-123"] = outcome

        response = client.post(
            f"{base}/github-copilot/poll", {"deviceCode": "device-123"}, format="json"
        )

        assert response.status_code == status
        assert response.json() == body
        assert not Credential.objects.exists()

    def test_success_stores_the_token_sealed(self, client, base, upstream):
        upstream.device_outcomes["device-123"] = ""
        host = urlsplit(upstream.base_url).netloc

        response = client.post(
            f"{base}/github-copilot/poll",
            {"deviceCode": "device-123", "domain": host},
            format="json",
        )

        assert response.status_code == 200
        assert response.json()["status"] == "success"
        assert response.json()["credential"]["name"] == "GitHub Copilot"
        assert upstream.requests["/login/oauth/access_token"] == 1  # the enterprise host
        credential = Credential.objects.get(provider="github-copilot")
        secret = credential_secret(credential)
        assert secret["domain"] == host
        assert_sealed(credential, secret["access_token"])


class TestCodex:
    def test_authorize_uses_the_default_or_given_redirect(self, client, base, upstream, settings):
        default = client.post(f"{base}/codex/authorize", {}, format="json").json()
        custom = client.post(
            f"{base}/codex/authorize", {"redirectUri": "http://localhost:9999/cb"}, format="json"
        ).json()

        assert query_of(default["url"])["redirect_uri"] == "http://localhost:1455/auth/callback"
        assert query_of(custom["url"])["redirect_uri"] == "http://localhost:9999/cb"
        assert query_of(default["url"])["code_challenge"] == challenge_of(default["verifier"])
        assert default["state"] != default["verifier"]

    @pytest.mark.parametrize("path", ["codex/authorize", "github-copilot/device-code"])
    def test_an_optional_body_may_be_left_out_but_not_be_null(self, client, base, upstream, path):
        without = client.post(f"{base}/{path}")
        null = client.post(f"{base}/{path}", "null", content_type="application/json")

        assert without.status_code == 200
        assert null.status_code == 400

    @pytest.mark.parametrize("uri", ["http://[localhost/cb", "ftp://localhost/cb", "/cb"])
    def test_a_redirect_that_is_no_web_address_is_400(self, client, base, uri):
        response = client.post(f"{base}/codex/authorize", {"redirectUri": uri}, format="json")

        assert response.status_code == 400
        assert response.json()["error"] == "redirectUri: Enter an http or https URL."

    def test_exchange_stores_the_tokens(self, client, base, upstream):
        answer = client.post(f"{base}/codex/authorize", {}, format="json").json()
        code = upstream.grant_code(answer["codeChallenge"])

        response = client.post(
            f"{base}/codex/exchange", {"code": code, "verifier": answer["verifier"]}, format="json"
        )

        assert response.json()["success"] is True
        assert upstream.bodies[-1]["redirect_uri"] == "http://localhost:1455/auth/callback"
        assert credential_secret(Credential.objects.get(provider="codex"))["access_token"]

    def test_a_failed_exchange_is_400(self, client, base, upstream):
        response = client.post(
            f"{base}/codex/exchange", {"code": "nope", "verifier": "v"}, format="json"
        )

        assert response.status_code == 400
        assert response.json() == {"error": "Token exchange failed: Invalid code"}

    def test_the_callback_page_finishes_the_flow_once(self, client, base, upstream, project):
        answer = client.post(
            f"{base}/codex/authorize",
            {"redirectUri": "http://testserver/auth/codex/callback"},
            format="json",
        ).json()
        code = upstream.grant_code(answer["codeChallenge"])
        callback = "/auth/codex/callback?" + urlencode({"code": code, "state": answer["state"]})
        browser = Client()  # the redirect from OpenAI carries no Discobot login

        page = browser.get(callback)
        replay = browser.get(callback)

        assert page.status_code == 200
        assert b"Codex is connected" in page.content
        assert Credential.objects.get(provider="codex").project == project
        assert replay.status_code == 400
        assert b"expired or was already used" in replay.content

    @pytest.mark.parametrize(
        "query", ["state=unknown&code=x", "error=access_denied&state=x", "code=only"]
    )
    def test_the_callback_page_reports_failures(self, upstream, query):
        page = Client().get(f"/auth/codex/callback?{query}")

        assert page.status_code == 400
        assert b"Codex was not connected" in page.content
        assert not Credential.objects.exists()


class TestRefresh:
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

    def test_a_token_close_to_expiry_is_refreshed_on_use(self, anthropic_oauth, upstream):
        old = credential_secret(anthropic_oauth)["access_token"]
        Credential.objects.filter(id=anthropic_oauth.id).update(
            expires_at=timezone.now() + timedelta(seconds=60)
        )

        token = credential_access_token(credential=Credential.objects.get(id=anthropic_oauth.id))

        assert token != old
        assert token in upstream.access_tokens
        assert (
            credential_secret(Credential.objects.get(id=anthropic_oauth.id))["access_token"]
            == token
        )
        assert upstream.bodies[-1]["grant_type"] == "refresh_token"

    def test_a_fresh_token_is_used_as_it_is(self, anthropic_oauth, upstream):
        old = credential_secret(anthropic_oauth)["access_token"]

        assert credential_access_token(credential=anthropic_oauth) == old
        assert upstream.requests["/anthropic/v1/oauth/token"] == 1  # only the exchange

    def test_refresh_endpoint(self, client, base, anthropic_oauth):
        response = client.post(f"{base}/anthropic/refresh")

        assert response.status_code == 200
        assert response.json()["needsReauth"] is False

    def test_a_refused_refresh_marks_the_credential_instead_of_deleting_it(
        self, client, base, anthropic_oauth, upstream
    ):
        upstream.refresh_tokens.clear()  # revoked at the provider

        response = client.post(f"{base}/anthropic/refresh")

        assert response.status_code == 409
        assert "authorize again" in response.json()["error"]
        info = client.get(f"{base}/anthropic").json()
        assert info["needsReauth"] is True

    def test_api_keys_are_not_refreshed(self, client, base):
        client.post(base, {"provider": "openai", "apiKey": "sk-1"}, format="json")

        response = client.post(f"{base}/openai/refresh")

        # The request is well formed; the credential's kind is what conflicts with it.
        assert response.status_code == 409
        assert response.json() == {"error": "Only OAuth credentials can be refreshed"}
