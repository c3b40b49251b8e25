"""Signing in with GitHub and Google against a local OAuth provider on 127.0.0.1."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from apps.accounts.models import User, UserSession
from tests.accounts.browser import approve_at_provider, local_path, sign_in, start_login
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("provider_name", "email", "name", "uid"),
    [
        ("github", "octo@example.com", "Octo Cat", "4242"),
        ("google", "gina@example.com", "Gina Google", "1077"),
    ],
)
def test_full_round_trip_ends_logged_in(provider, provider_name, email, name, uid):
    client = Client()

    authorize_url = start_login(client, provider_name)
    query = parse_qs(urlsplit(authorize_url).query)
    assert authorize_url.startswith(provider.base_url)
    assert query["redirect_uri"] == [f"http://testserver/auth/callback/{provider_name}"]
    assert query["state"][0]
    callback = client.get(local_path(approve_at_provider(authorize_url)))

    assert callback.status_code == 307
    assert callback["Location"] == "/"
    cookie = callback.cookies["discobot_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 30 * 24 * 3600
    me = client.get("/auth/me")
    assert me.status_code == 200
    assert me.json()["email"] == email
    assert me.json()["name"] == name
    assert me.json()["provider"] == provider_name
    user = User.objects.get(email=email)
    assert (user.provider, user.provider_id) == (provider_name, uid)
    assert SocialAccount.objects.get(user=user).uid == uid


def test_profile_fetch_and_token_exchange_happen_over_http(provider):
    sign_in(Client(), "github")

    assert provider.requests["/github/login/oauth/access_token"] == 1
    assert provider.requests["/github-api/user"] == 1
    assert provider.requests["/github-api/user/emails"] == 1


def test_a_second_login_updates_the_profile_and_keeps_the_user(provider):
    sign_in(Client(), "github")
    provider.github_profile.name = "Octo Renamed"
    provider.github_profile.avatar_url = "https://avatars.example/new.png"

    sign_in(Client(), "github")

    user = User.objects.get(email="octo@example.com")
    assert user.name == "Octo Renamed"
    assert user.avatar_url == "https://avatars.example/new.png"
    assert User.objects.filter(email="octo@example.com").count() == 1


@pytest.mark.parametrize("first_login", [True, False])
def test_a_name_with_hidden_characters_is_stored_without_them(provider, first_login):
    if not first_login:
        sign_in(Client(), "github")
    provider.github_profile.name = "\u202eOcto\u200b Cat\x00\n"
    provider.github_profile.avatar_url = "javascript:alert(1)"

    response = sign_in(Client(), "github")

    assert response.status_code == 307
    user = User.objects.get(email="octo@example.com")
    assert (user.name, user.avatar_url) == ("Octo Cat", "")


def test_an_existing_user_with_the_same_email_is_linked_not_duplicated(provider):
    existing = UserFactory.create(email="gina@example.com", provider="github", provider_id="")

    sign_in(Client(), "google")

    assert User.objects.filter(email="gina@example.com").get() == existing
    assert SocialAccount.objects.get(user=existing).provider == "google"


def test_safe_next_is_honoured(provider):
    response = sign_in(Client(), "github", "?next=/projects/local")

    assert response.status_code == 307
    assert response["Location"] == "/projects/local"


def test_next_to_another_site_is_ignored(provider):
    response = sign_in(Client(), "github", "?next=https://evil.example/steal")

    assert response.status_code == 307
    assert response["Location"] == "/"


def test_state_mismatch_is_rejected(provider):
    client = Client()
    back = approve_at_provider(start_login(client, "github"))
    code = parse_qs(urlsplit(back).query)["code"][0]

    response = client.get(f"/auth/callback/github?code={code}&state=forged")

    assert response.status_code == 400
    assert "error" in response.json()
    assert client.get("/auth/me").status_code == 401


def test_state_from_another_browser_is_rejected(provider):
    victim, attacker = Client(), Client()
    back = approve_at_provider(start_login(attacker, "github"))

    response = victim.get(local_path(back))

    assert response.status_code == 400
    assert victim.get("/auth/me").status_code == 401
    assert not User.objects.filter(email="octo@example.com").exists()


def test_provider_error_is_rejected(provider):
    provider.deny = True
    client = Client()

    response = sign_in(client, "google")

    assert response.status_code == 400
    assert response.json() == {"error": "Login was cancelled at the provider"}
    assert client.get("/auth/me").status_code == 401


def test_a_replayed_code_is_rejected(provider):
    first = Client()
    back = approve_at_provider(start_login(first, "github"))
    first.get(local_path(back))
    used_code = parse_qs(urlsplit(back).query)["code"][0]
    second = Client()
    state = parse_qs(urlsplit(start_login(second, "github")).query)["state"][0]

    response = second.get(f"/auth/callback/github?code={used_code}&state={state}")

    assert response.status_code == 400
    assert second.get("/auth/me").status_code == 401


@pytest.mark.parametrize("name", ["gitlab", "GitHub", "nope"])
def test_unknown_provider_is_400(provider, name):
    for path in (f"/auth/login/{name}", f"/auth/callback/{name}?code=x&state=y"):
        response = Client().get(path)

        assert response.status_code == 400
        assert "error" in response.json()


def test_unconfigured_provider_is_neither_offered_nor_usable(provider, settings):
    del settings.SOCIALACCOUNT_PROVIDERS["google"]["APPS"]

    assert Client().get("/auth/providers").json() == {
        "authEnabled": True,
        "providers": ["github"],
    }
    assert Client().get("/auth/login/google").status_code == 400


def test_providers_are_listed_when_configured(provider):
    assert Client().get("/auth/providers").json()["providers"] == ["github", "google"]


def test_login_with_auth_off_goes_home(settings):
    settings.AUTH_ENABLED = False

    response = Client().get("/auth/login/github")

    assert response.status_code == 307
    assert response["Location"] == "/"


def test_sessions_are_stored_hashed(provider):
    client = Client()
    sign_in(client, "github")
    cookie = client.cookies["discobot_session"].value

    dumped = [str(row) for row in UserSession.objects.values()]

    assert len(cookie) >= 32
    assert not any(cookie in row for row in dumped)
    assert UserSession.objects.get().user == User.objects.get(email="octo@example.com")


def test_a_user_signed_in_with_github_accepts_an_invitation(provider, client_for, owner, project):
    invitation = client_for(owner).post(
        f"/api/projects/{project.id}/invitations",
        {"email": "octo@example.com", "role": "admin"},
        format="json",
    )
    token = invitation.json()["token"]
    octo = Client()
    sign_in(octo, "github")
    assert octo.get(f"/api/projects/{project.id}").status_code == 404

    accepted = octo.post(f"/api/projects/{project.id}/invitations/{token}/accept")

    assert accepted.status_code == 200
    assert octo.get(f"/api/projects/{project.id}").status_code == 200
    roles = {m["email"]: m["role"] for m in octo.get(f"/api/projects/{project.id}/members").json()}
    assert roles["octo@example.com"] == "admin"
    again = octo.post(f"/api/projects/{project.id}/invitations/{token}/accept")
    assert again.status_code == 400
