"""A route answers only its own methods: 405 in JSON, with `Allow`, for anything else."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.system.routes import HTTP_METHODS, api_views

pytestmark = pytest.mark.django_db

OUR_CODE = ("apps.", "discobot.")


def test_no_route_inherits_a_handler_from_another_of_our_views():
    inherited = []
    for route, view_class in api_views():
        for method in HTTP_METHODS:
            owner = next((c for c in view_class.__mro__ if method in vars(c)), view_class)
            if owner is not view_class and owner.__module__.startswith(OUR_CODE):
                inherited.append(f"{method.upper()} {route} from {owner.__name__}")

    assert inherited == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("post", "/auth/login/github", "GET, HEAD"),
        ("put", "/auth/callback/github", "GET, HEAD"),
        ("delete", "/auth/callback/google", "GET, HEAD"),
        ("post", "/auth/codex/callback", "GET, HEAD"),
        ("get", "/auth/logout", "POST, OPTIONS"),
    ],
)
def test_auth_paths_answer_other_methods_with_a_json_405(auth_enabled, method, path, allowed):
    response = getattr(APIClient(), method)(path)

    assert response.status_code == 405
    assert response.json() == {"error": f'Method "{method.upper()}" not allowed.'}
    assert response["Allow"] == allowed
