"""The whole sign-in as a browser does it: a real server on 127.0.0.1, a cookie jar that follows
redirects, and the local GitHub stand-in."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.accounts.oauth_provider import oauth_provider, provider_environment
from tests.servers import running_server

STRONG_SECRET = "e2e-session-secret-" + "x" * 32
STRONG_KEY = "cd" * 32


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("login-e2e")


@pytest.fixture(scope="module")
def server(server_dir) -> Iterator[str]:
    with (
        oauth_provider() as provider,
        running_server(
            server_dir,
            AUTH_ENABLED="true",
            SESSION_SECRET=STRONG_SECRET,
            ENCRYPTION_KEY=STRONG_KEY,
            **provider_environment(provider.base_url),
        ) as running,
    ):
        yield running.base_url


class Browser:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str:
        return next(cookie.value or "" for cookie in self.jar if cookie.name == name)

    def request(
        self, path: str, method: str = "GET", body: dict | None = None, headers: dict | None = None
    ) -> tuple[int, str, str]:
        """Follows redirects like a browser; returns status, final URL and body."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers or {}
        )
        if data is not None or method == "POST":
            request.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.url, error.read().decode()

    def post_with_csrf(self, path: str, body: dict | None = None) -> tuple[int, str, str]:
        return self.request(path, "POST", body, {"X-CSRFToken": self.cookie("csrftoken")})


def test_login_work_and_logout_like_a_browser(server, server_dir):
    browser = Browser(server)

    status, final_url, _ = browser.request("/auth/login/github")

    # Redirected to GitHub, back to the callback, then home (which this API server lacks).
    assert final_url == f"{server}/"
    assert status == 404
    status, _, body = browser.request("/auth/me")
    assert status == 200
    assert json.loads(body)["email"] == "octo@example.com"
    session_cookie = browser.cookie("discobot_session")

    status, _, body = browser.post_with_csrf("/api/projects", {"name": "Octo's work"})
    assert status == 201
    project_id = json.loads(body)["id"]
    status, _, body = browser.request("/api/projects")
    assert [project["id"] for project in json.loads(body)] == [project_id]

    status, _, body = browser.post_with_csrf("/api/tokens", {"name": "script"})
    assert status == 201
    token = json.loads(body)["token"]

    assert browser.post_with_csrf("/auth/logout")[0] == 200
    assert browser.request("/auth/me")[0] == 401
    assert browser.request("/api/projects")[0] == 401

    script = Browser(server)
    status, _, body = script.request(
        f"/api/projects/{project_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200
    assert json.loads(body)["name"] == "Octo's work"
    server_log = (server_dir / "server.log").read_text()
    assert "/api/projects" in server_log
    assert session_cookie not in server_log
    assert token not in server_log


def test_without_credentials_the_api_is_closed(server):
    status, _, body = Browser(server).request("/api/projects")

    assert status == 401
    assert json.loads(body) == {"error": "Not authenticated"}
