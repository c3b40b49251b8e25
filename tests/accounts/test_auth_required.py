"""With AUTH_ENABLED=true every /api endpoint needs a session or a token; /health and /auth
stay public. The endpoints are found by walking the URL configuration, not listed by hand."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.system.routes import SAMPLE_VALUES, api_endpoints

pytestmark = pytest.mark.django_db


ENDPOINTS = api_endpoints()


def test_the_walk_finds_the_api():
    assert ("get", "/api/projects") in ENDPOINTS
    assert ("delete", f"/api/tokens/{SAMPLE_VALUES['uuid']}") in ENDPOINTS
    assert len(ENDPOINTS) >= 12


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_every_api_endpoint_needs_credentials(auth_enabled, method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")

    assert response.status_code == 401, (method, url)
    assert response.json() == {"error": "Not authenticated"}


@pytest.mark.parametrize("url", ["/health", "/auth/providers"])
def test_public_paths_stay_public(auth_enabled, url):
    assert APIClient().get(url).status_code == 200
