"""The web app's origins (CORS_ORIGINS, wildcards included) may call the API with cookies."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "origin", ["http://localhost:3000", "http://app.localhost:3000", "http://ui.localhost:3001"]
)
def test_default_origins_are_allowed_with_credentials(origin):
    response = APIClient().options(
        "/api/projects",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-csrftoken",
    )

    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Max-Age"] == "300"


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://localhost:3002",
        "http://a.b.localhost:3000",
        # A service preview serves the repository's code: never trusted by the API.
        "http://abc123-svc-web.localhost:3001",
    ],
)
def test_other_origins_are_not_allowed(origin):
    response = APIClient().get("/api/projects", HTTP_ORIGIN=origin)

    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_page_of_a_service_preview_cannot_write_with_the_session_cookie(settings, member):
    settings.AUTH_ENABLED = True
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    client.get("/auth/me")  # sets the token a page on the app's own origin would send
    token = client.cookies["csrftoken"].value
    preview = "http://abc123-svc-web.localhost:3001"

    response = client.post(
        "/api/projects",
        {"name": "x"},
        content_type="application/json",
        headers={"Origin": preview, "X-CSRFToken": token},
    )

    assert response.status_code == 403
    assert response.json()["error"].startswith("CSRF Failed: ")
    allowed = client.post(
        "/api/projects",
        {"name": "x"},
        content_type="application/json",
        headers={"Origin": "http://app.localhost:3001", "X-CSRFToken": token},
    )
    assert allowed.status_code == 201
