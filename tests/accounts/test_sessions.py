"""Browser sessions: the cookie works, the database alone does not, logout and expiry end it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import User, UserSession
from tests.accounts.browser import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(provider) -> Client:
    client = Client()
    assert sign_in(client, "github").status_code == 307
    return client


def test_the_cookie_authenticates_api_calls(signed_in):
    response = signed_in.get("/api/projects")

    assert response.status_code == 200
    assert response.json() == []


def test_the_session_table_cannot_be_used_to_log_in(signed_in):
    stored_key = UserSession.objects.get().session_key
    thief = Client()
    thief.cookies["discobot_session"] = stored_key

    assert thief.get("/auth/me").status_code == 401
    assert signed_in.cookies["discobot_session"].value != stored_key


def test_logout_ends_the_session_on_the_server(signed_in):
    cookie = signed_in.cookies["discobot_session"].value

    response = signed_in.post("/auth/logout")

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert not UserSession.objects.filter(user__isnull=False).exists()
    replay = Client()
    replay.cookies["discobot_session"] = cookie
    assert replay.get("/auth/me").status_code == 401


def test_an_expired_session_gets_401(signed_in):
    UserSession.objects.update(expire_date=timezone.now() - timedelta(seconds=1))

    response = signed_in.get("/auth/me")

    assert response.status_code == 401
    assert response.json() == {"error": "Session expired"}


def test_without_a_cookie_me_is_401(auth_enabled):
    response = Client().get("/auth/me")

    assert response.status_code == 401
    assert response.json() == {"error": "Not authenticated"}


def test_with_auth_off_me_is_the_anonymous_user(db):
    body = Client().get("/auth/me").json()

    assert body["id"] == "00000000-0000-0000-0000-000000000001"
    assert body["email"] == "anonymous@local"
    assert body["name"] == "Anonymous User"


def test_with_auth_off_an_anonymous_user_deleted_by_an_operator_comes_back(db):
    User.objects.filter(pk="00000000-0000-0000-0000-000000000001").delete()

    body = Client().get("/auth/me").json()

    assert body["email"] == "anonymous@local"
    assert User.objects.filter(pk="00000000-0000-0000-0000-000000000001").exists()


def test_cookies_are_secure_over_https(provider):
    client = Client()

    response = client.get("/auth/login/github", secure=True)

    assert response.status_code == 307
    assert "discobot_session" in response.cookies
    assert all(cookie["secure"] for cookie in response.cookies.values())


def test_cookies_are_not_secure_over_plain_http_localhost(provider):
    response = Client().get("/auth/login/github")

    assert "discobot_session" in response.cookies
    assert not any(cookie["secure"] for cookie in response.cookies.values())


class TestCsrf:
    """A cookie-authenticated unsafe request needs the CSRF header; the SPA gets the token
    from the `csrftoken` cookie that /auth/me sets."""

    @pytest.fixture
    def browser(self, provider) -> Client:
        client = Client(enforce_csrf_checks=True)
        sign_in(client, "github")
        return client

    def test_post_without_the_csrf_header_is_refused(self, browser):
        response = browser.post("/api/projects", {"name": "x"}, content_type="application/json")

        assert response.status_code == 403
        assert "CSRF" in response.json()["error"]

    def test_post_with_the_csrf_header_succeeds(self, browser):
        browser.get("/auth/me")
        token = browser.cookies["csrftoken"].value

        response = browser.post(
            "/api/projects",
            {"name": "x"},
            content_type="application/json",
            headers={"X-CSRFToken": token},
        )

        assert response.status_code == 201

    def test_logout_needs_the_csrf_header_too(self, browser):
        json = "application/json"
        assert browser.post("/auth/logout", content_type=json).status_code == 403
        browser.get("/auth/me")

        response = browser.post(
            "/auth/logout",
            content_type=json,
            headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
        )

        assert response.status_code == 200
        assert browser.get("/auth/me").status_code == 401
