"""Request bodies: a file of FILE_MAX_BYTES fits (base64), anything larger is a JSON 413 that
is answered before the body is read, whoever asks and wherever."""

from __future__ import annotations

import base64
import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from rest_framework.test import APIClient

from apps.accounts.services import api_token_create
from discobot.asgi import application

pytestmark = pytest.mark.django_db

HUNDRED_MB = 100 * 1024 * 1024
CALLERS = ["nobody", "session-without-csrf-token", "session-with-csrf-token", "api-token"]
PATHS = [
    ("POST", "/api/projects"),
    ("PUT", "/api/projects/{project}"),
    ("POST", "/api/projects/{project}/agents"),
    ("POST", "/api/projects/{project}/invitations/accept"),
    ("POST", "/api/tokens"),
    ("POST", "/api/nothing"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/login/github"),
    ("GET", "/auth/me"),
    ("PUT", "/auth/callback/github"),
]


def too_large_error() -> dict:
    return {"error": f"Request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"}


@pytest.fixture(params=CALLERS)
def caller(request, auth_enabled, member) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    if request.param.startswith("session"):
        client.force_login(member)
    if request.param == "session-with-csrf-token":
        client.get("/auth/me")
        client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    if request.param == "api-token":
        _, token = api_token_create(user=member, name="ci")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_a_body_declared_too_large_is_a_json_413_everywhere(caller, project, method, path):
    # The test client's body is two bytes: reading what the header promises would fail.
    response = caller.generic(
        method,
        path.format(project=project.id),
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(HUNDRED_MB),
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == too_large_error()


def test_a_body_just_over_the_limit_is_refused(anonymous_client):
    body = b'{"name": "' + b"x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'

    response = anonymous_client.post("/api/projects", body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == too_large_error()


def test_a_file_of_the_largest_size_fits_in_a_body_as_base64(anonymous_client):
    content = base64.b64encode(bytes(settings.FILE_MAX_BYTES)).decode()
    body = json.dumps({"name": "Reader", "agentType": "codex", "systemPrompt": content})

    response = anonymous_client.post(
        "/api/projects/local/agents", body, content_type="application/json"
    )

    # Read and validated (the prompt is too long for an agent), not refused unread.
    assert response.status_code == 400
    assert response.json()["error"].startswith("systemPrompt: ")


def test_the_server_answers_a_body_declared_too_large_before_any_of_it_arrives():
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/projects",
        "raw_path": b"/api/projects",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(HUNDRED_MB).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3001),
    }

    async def client_that_sends_no_body() -> tuple[dict, dict]:
        server = ApplicationCommunicator(application, scope)
        start = await server.receive_output(timeout=20)
        body = await server.receive_output(timeout=20)
        await server.send_input({"type": "http.disconnect"})
        await server.wait(timeout=20)
        return start, body

    start, body = async_to_sync(client_that_sends_no_body)()

    assert start["status"] == 413
    assert {name.lower(): value for name, value in start["headers"]}[b"content-type"] == (
        b"application/json"
    )
    assert json.loads(body["body"]) == too_large_error()
