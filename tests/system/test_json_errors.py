"""Every refusal is a 4xx `{"error"}` in JSON: never a 500, never an HTML page."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.api import views as account_views
from apps.projects import selectors as project_selectors
from tests.system.routes import api_endpoints

pytestmark = pytest.mark.django_db

BODY_ENDPOINTS = [(method, url) for method, url in api_endpoints() if method in ("post", "put")]
DEEP = "[" * 1000 + "]" * 1000


def assert_json_refusal(response, status: int | None = None) -> dict:
    assert response["Content-Type"] == "application/json", response.content[:200]
    if status is None:
        assert 400 <= response.status_code < 500, response.content[:200]
    else:
        assert response.status_code == status, response.content[:200]
    body = response.json()
    assert isinstance(body["error"], str)
    return body


def test_the_walk_finds_the_bodies():
    assert ("post", "/api/projects/local/agents") in BODY_ENDPOINTS
    assert ("put", "/api/projects/local") in BODY_ENDPOINTS


@pytest.mark.parametrize(("method", "url"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [
        DEEP,
        '{"name": ' + "[" * 1000 + "]" * 1000 + "}",
        '{"name": "\\ud800"}',
        '{"\\udc00": "x"}',
    ],
    ids=["deep-array", "deep-field", "lone-high-surrogate", "lone-low-surrogate-key"],
)
def test_bodies_no_server_could_hold_are_never_a_500(anonymous_client, method, url, raw):
    response = anonymous_client.generic(method.upper(), url, raw, content_type="application/json")

    # Actions without a body ignore it; everything else refuses it.
    assert response.status_code < 500, response.content[:200]
    assert response["Content-Type"] == "application/json"


def test_deep_and_surrogate_bodies_say_what_is_wrong(anonymous_client):
    deep = anonymous_client.post("/api/projects", DEEP, content_type="application/json")
    surrogate = anonymous_client.post(
        "/api/projects", '{"name": "\\ud800"}', content_type="application/json"
    )

    assert assert_json_refusal(deep, 400) == {
        "error": "Invalid request body: nested deeper than 64 levels"
    }
    assert "lone surrogate" in assert_json_refusal(surrogate, 400)["error"]


def test_nesting_a_body_needs_is_accepted(anonymous_client):
    name = "[" * 60 + "]" * 60  # a string: only containers count

    response = anonymous_client.post(
        "/api/projects", json.dumps({"name": name}), content_type="application/json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/api/projects", "/auth/me", "/health"])
def test_a_host_this_server_does_not_serve_is_a_json_400(anonymous_client, path):
    response = anonymous_client.get(path, HTTP_HOST="evil.example")

    assert assert_json_refusal(response, 400) == {"error": "Invalid Host header"}


def test_a_login_form_posted_without_its_csrf_token_is_a_json_403(client_for, member):
    client = client_for(member)
    client.handler.enforce_csrf_checks = True

    response = client.post("/auth/login/github")

    assert assert_json_refusal(response, 403)["error"].startswith("CSRF Failed: ")


def test_an_unknown_auth_path_is_a_json_404(anonymous_client):
    assert assert_json_refusal(anonymous_client.get("/auth/nothing"), 404) == {"error": "Not found"}


@pytest.mark.parametrize(
    ("path", "target", "name"),
    [
        ("/api/projects", project_selectors, "project_list"),
        ("/auth/providers", account_views, "configured_providers"),
    ],
)
def test_a_bug_is_a_json_500(monkeypatch, path, target, name):
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(target, name, broken)
    client = APIClient(raise_request_exception=False)

    response = client.get(path)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Internal server error"}


UNKNOWN_API_PATHS = [
    "/api",
    "/api/nothing",
    "/api/nothing/",
    "/api/projects/local/nothing",
    "/api/projects/local/workspaces/x/y/z/",
    "/api/%E2%9C%93%00",
    "/api/" + "a" * 4000,
]
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.mark.parametrize("path", UNKNOWN_API_PATHS)
@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("login", ["anonymous-mode", "no-login", "session-cookie"])
def test_every_method_on_an_unknown_api_path_is_a_json_404(settings, member, login, method, path):
    settings.AUTH_ENABLED = login != "anonymous-mode"
    # A browser's session is CSRF-checked; a page without the token must still get the 404.
    client = Client(enforce_csrf_checks=True)
    if login == "session-cookie":
        client.force_login(member)

    response = client.generic(method, path, b'{"name": "x"}', content_type="application/json")

    assert response.status_code == 404, (method, path, response.content[:200])
    assert response["Content-Type"] == "application/json"
    if method != "HEAD":
        assert response.json() == {"error": "Not found"}


def test_a_session_request_without_its_csrf_token_is_a_json_403(settings, member):
    settings.AUTH_ENABLED = True
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    response = client.post("/api/projects", {"name": "x"}, content_type="application/json")

    assert assert_json_refusal(response, 403)["error"].startswith("CSRF Failed: ")
