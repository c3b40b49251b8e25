"""With AUTH_ENABLED=true every /api endpoint needs a session or a token; /health and /auth
stay public. The endpoints are found by walking the URL configuration, not listed by hand."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

SAMPLE_VALUES = {
    "project_id": "local",
    "session_id": "session-1",
    "uuid": "6f1c7a52-0000-4000-8000-000000000000",
    "str": "x",
    "path": "x",
}


def walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def concrete(route: str) -> str:
    """`api/projects/<project_id:project_id>` -> `/api/projects/local`."""

    def sample(match: re.Match[str]) -> str:
        return SAMPLE_VALUES[match.group(1) or "str"]

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", sample, route)


def api_endpoints() -> list[tuple[str, str]]:
    endpoints = []
    for route, pattern in walk(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "cls", None)
        if not route.startswith("api/") or view_class is None:
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view_class, method):
                endpoints.append((method, concrete(route)))
    return endpoints


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
