"""Health, system status, the JSON 404 and the OpenAPI description."""

from __future__ import annotations

import stat

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

# Actions whose POST carries no body.
BODILESS_ACTIONS = (
    "/accept",
    "/commit",
    "/refresh",
    "/test",
    "/anthropic/authorize",
    "/fetch",
    "/cancel",
    "/start",
    "/stop",
)


def test_health_reports_ok_without_credentials(auth_enabled):
    response = APIClient().get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def fake_tool(directory, name: str) -> None:
    tool = directory / name
    tool.write_text("#!/bin/sh\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)


def test_status_warns_about_every_missing_tool(anonymous_client, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))

    response = anonymous_client.get("/api/status")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    tool_messages = [m for m in body["messages"] if m["id"].endswith("-not-found")]
    assert [message["id"] for message in tool_messages] == [
        "git-not-found",
        "docker-not-found",
    ]
    for message in body["messages"]:
        assert set(message) == {"id", "level", "title", "message"}
        assert message["level"] == "warn"


def test_status_is_quiet_about_tools_that_are_there(anonymous_client, monkeypatch, tmp_path):
    fake_tool(tmp_path, "git")
    fake_tool(tmp_path, "docker")
    monkeypatch.setenv("PATH", str(tmp_path))

    body = anonymous_client.get("/api/status").json()

    assert body["ok"] is True
    assert [m for m in body["messages"] if m["id"].endswith("-not-found")] == []


@pytest.mark.parametrize("method", ["get", "post", "put", "delete", "patch"])
@pytest.mark.parametrize("path", ["/api/nothing", "/api/projects/local/nothing", "/api/"])
def test_unknown_api_paths_are_json_404s(anonymous_client, method, path):
    response = getattr(anonymous_client, method)(path)

    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


def test_trailing_slash_is_not_silently_redirected(anonymous_client):
    response = anonymous_client.get("/api/projects/")

    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


def test_openapi_schema_is_valid(tmp_path):
    # --fail-on-warn turns every undocumented shape drf-spectacular notices into a failure.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )


def test_every_operation_documents_its_request_and_responses(anonymous_client):
    schema = anonymous_client.get("/api/openapi.json").json()
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if path.startswith("/api/projects")
    ]

    assert {path for path, _, _ in operations} >= {
        "/api/projects",
        "/api/projects/{project_id}",
        "/api/projects/{project_id}/members",
        "/api/projects/{project_id}/members/{user_id}",
        "/api/projects/{project_id}/invitations",
        "/api/projects/{project_id}/invitations/{token}/accept",
    }
    for path, method, operation in operations:
        # A redirect (the service preview's link) is an answer too, one without a body.
        success = [code for code in operation["responses"] if code[0] in "23"]
        assert success, (path, method)
        if success[0].startswith("2"):
            assert "content" in operation["responses"][success[0]], (path, method)
        errors = [code for code in operation["responses"] if code.startswith("4")]
        for code in errors:
            content = operation["responses"][code]["content"]["application/json"]
            assert content["schema"]["$ref"].endswith("/Error"), (path, method, code)
        if method in {"put", "post"} and not path.endswith(BODILESS_ACTIONS):
            assert "requestBody" in operation, (path, method)


def test_project_fields_are_camel_case_in_the_schema(anonymous_client):
    components = anonymous_client.get("/api/openapi.json").json()["components"]["schemas"]

    assert set(components["Member"]["properties"]) == {
        "id",
        "projectId",
        "userId",
        "role",
        "email",
        "name",
        "avatarUrl",
        "invitedAt",
        "acceptedAt",
    }


def test_api_docs_page_renders(anonymous_client):
    response = anonymous_client.get("/api/docs")

    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"/api/openapi.json" in response.content
