"""What the real server does with odd requests: huge bodies, foreign hosts, secrets in
paths. Every refusal is JSON; no secret reaches the log."""

from __future__ import annotations

import http.client
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.servers import Server, running_server

MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    # Unbuffered, so that the access log is written as requests end.
    with running_server(tmp_path_factory.mktemp("server"), PYTHONUNBUFFERED="1") as running:
        yield running


def send(
    server: Server,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    chunked: bool = False,
) -> tuple[int, dict[str, str], bytes]:
    address = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(address.netloc, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        answer = {name.lower(): value for name, value in response.getheaders()}
        return response.status, answer, response.read()
    finally:
        connection.close()


def chunks(total: int, size: int = MB) -> Iterator[bytes]:
    block = b"x" * size
    for _ in range(total // size):
        yield block


def json_body(headers: dict[str, str], body: bytes) -> dict:
    assert headers["content-type"] == "application/json", body[:200]
    return json.loads(body)


def test_a_ten_megabyte_body_is_read_and_answered_in_json(server):
    prompt = "x" * (10 * MB)
    body = json.dumps({"name": "Big", "agentType": "codex", "systemPrompt": prompt}).encode()

    status, headers, answer = send(
        server, "POST", "/api/projects/local/agents", body, {"Content-Type": "application/json"}
    )

    assert status == 400
    assert json_body(headers, answer)["error"].startswith("systemPrompt: ")


def test_a_hundred_megabyte_body_is_a_json_413(server):
    status, headers, answer = send(
        server,
        "POST",
        "/api/projects",
        chunks(100 * MB),
        {"Content-Type": "application/json", "Content-Length": str(100 * MB)},
    )

    assert status == 413
    assert json_body(headers, answer)["error"].startswith("Request body is larger than ")


def test_a_chunked_body_that_grows_too_large_is_a_json_413(server):
    status, headers, answer = send(
        server,
        "POST",
        "/api/projects",
        chunks(20 * MB),
        {"Content-Type": "application/json"},
        chunked=True,
    )

    assert status == 413
    assert json_body(headers, answer)["error"].startswith("Request body is larger than ")


@pytest.mark.parametrize("path", ["/api/projects", "/auth/providers", "/nothing"])
def test_a_foreign_host_header_is_a_json_400(server, path):
    status, headers, answer = send(server, "GET", path, headers={"Host": "evil.example"})

    assert status == 400
    assert json_body(headers, answer) == {"error": "Invalid Host header"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    # A POST without a CSRF token fails that check before the method's.
    [("GET", "/auth/nothing", 404), ("POST", "/auth/codex/callback", 403)],
)
def test_auth_refusals_are_json(server, method, path, status):
    answer_status, headers, answer = send(server, method, path)

    assert answer_status == status
    assert "error" in json_body(headers, answer)


def log_lines_with(server: Server, needle: str, count: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in server.log.read_text().splitlines() if needle in line]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_invitation_tokens_and_oauth_codes_never_reach_the_log(server):
    token, code = secrets.token_urlsafe(32), secrets.token_urlsafe(24)

    refused, _, _ = send(server, "POST", f"/api/projects/local/invitations/{token}/accept")
    send(server, "GET", f"/auth/codex/callback?state=unknown&code={code}")

    assert refused == 400
    # the server's access line and Django's `Bad Request` warning.
    accepted = log_lines_with(server, "/invitations/[redacted]/accept", count=2)
    assert len(accepted) == 2, server.log.read_text()[-2000:]
    assert log_lines_with(server, "code=[redacted]", count=1)
    log = server.log.read_text()
    assert token not in log
    assert code not in log
