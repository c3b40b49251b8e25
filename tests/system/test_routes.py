"""A route answers only its own methods: 405 in JSON, with `Allow`, for anything else."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.projects.api.base import ProjectScopedView
from apps.projects.api.views import InvitationAcceptView, InvitationTokenAcceptView
from apps.projects.models import Role
from tests.system.routes import HTTP_METHODS, SAMPLE_VALUES, api_views, concrete, project_views

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


# --- Every project route checks membership (generated from the URLconf: new ones join) --------

# Reached by someone who is not a member yet, on purpose: accepting makes them one.
NOT_MEMBERSHIP_SCOPED = {InvitationAcceptView, InvitationTokenAcceptView}
SCOPED_VIEWS = [
    (route, view_class)
    for route, view_class in project_views()
    if issubclass(view_class, ProjectScopedView)
]
PROJECT_OPERATIONS = [
    (method, route, view_class)
    for route, view_class in SCOPED_VIEWS
    for method in HTTP_METHODS
    if hasattr(view_class, method)
]
ROLE_OPERATIONS = [
    (method, route, view_class.required_roles[method.upper()])
    for method, route, view_class in PROJECT_OPERATIONS
    if method.upper() in view_class.required_roles
]
# The member just below each role: the nearest miss.
BELOW = {Role.ADMIN: "member", Role.OWNER: "admin"}


def project_url(route: str, project_id: str) -> str:
    return concrete(route, {**SAMPLE_VALUES, "project_id": project_id})


def test_the_walk_finds_the_project_routes():
    routes = {route for _, route, _ in PROJECT_OPERATIONS}

    assert "api/projects/<project_id:project_id>" in routes
    assert "api/projects/<project_id:project_id>/members" in routes
    assert len(routes) >= 20
    assert ("delete", "api/projects/<project_id:project_id>", Role.OWNER) in ROLE_OPERATIONS


def test_every_project_route_stands_on_the_membership_check():
    unchecked = {
        view_class
        for _, view_class in project_views()
        if not issubclass(view_class, ProjectScopedView)
    }

    assert unchecked == NOT_MEMBERSHIP_SCOPED


@pytest.mark.parametrize(("method", "route", "view_class"), PROJECT_OPERATIONS)
def test_a_member_of_another_project_gets_404(
    client_for, project, other_project, outsider, method, route, view_class
):
    response = getattr(client_for(outsider), method)(
        project_url(route, project.id), {}, format="json"
    )

    assert response.status_code == 404, (method, route, response.content[:200])
    assert response.json() == {"error": "Project not found"}


@pytest.mark.parametrize(("method", "route", "role"), ROLE_OPERATIONS)
def test_a_member_without_the_role_gets_403(client_for, project, request, method, route, role):
    caller = request.getfixturevalue(BELOW[role])

    response = getattr(client_for(caller), method)(
        project_url(route, project.id), {}, format="json"
    )

    assert response.status_code == 403, (method, route, response.content[:200])
    assert response.json() == {"error": f"{role.label} access required"}
