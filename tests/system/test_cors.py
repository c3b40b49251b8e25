"""The web app's origins (CORS_ORIGINS, wildcards included) may call the API with cookies."""

from __future__ import annotations

import pytest
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
    "origin", ["http://evil.example", "http://localhost:3002", "http://a.b.localhost:3000"]
)
def test_other_origins_are_not_allowed(origin):
    response = APIClient().get("/api/projects", HTTP_ORIGIN=origin)

    assert "Access-Control-Allow-Origin" not in response.headers
