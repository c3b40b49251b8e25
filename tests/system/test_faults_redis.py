"""Redis goes away under a real server with auth on: the server degrades, it never fails.

Rate limits fail open (with a warning in the log), event streams poll the table instead of
waiting for wake-ups, writes are done once and answered as done, and /readyz reports Redis.
Redis is either a port nothing listens on, or the real one behind a proxy cut mid-test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.servers import Server, TcpProxy, free_port, running_server
from tests.sse import BrowserEventSource, ServerEvent

SESSION_SECRET = "redis-faults-session-secret-" + "x" * 32
ENCRYPTION_KEY = "ef" * 32
CSRF_TOKEN = "c" * 32
REDIS_URL = "redis://127.0.0.1:6379/7"


@dataclass
class User:
    token: str
    session: str  # the discobot_session cookie of a signed-in browser
    project_id: str


class Client:
    def __init__(self, server: Server, user: User) -> None:
        self.server = server
        self.user = user

    def call(
        self, method: str, path: str, body: dict | None = None, *, cookie: bool = False
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if cookie:  # a browser: the session cookie, and the CSRF token echoed in a header
            headers["Cookie"] = f"discobot_session={self.user.session}; csrftoken={CSRF_TOKEN}"
            headers["X-CSRFToken"] = CSRF_TOKEN
        else:
            headers["Authorization"] = f"Bearer {self.user.token}"
        request = urllib.request.Request(
            self.server.base_url + path,
            data=json.dumps(body).encode() if body is not None else None,
            headers=headers,
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def workspaces(self) -> str:
        return f"/api/projects/{self.user.project_id}/workspaces"

    def events(self) -> BrowserEventSource:
        return BrowserEventSource(
            f"{self.server.base_url}/api/projects/{self.user.project_id}/events",
            headers={"Authorization": f"Bearer {self.user.token}"},
        )


def sign_up(server: Server, email: str) -> User:
    """A user with an API token, a browser session and a project of their own."""
    made = server.manage("create_token", "--email", email, "--create-user")
    assert made.returncode == 0, made.stderr
    session = server.manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY; "
        "from apps.accounts.models import User; from apps.accounts.sessions import SessionStore; "
        f"user = User.objects.get(email='{email}'); store = SessionStore(); "
        "store[SESSION_KEY] = str(user.pk); "
        "store[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'; "
        "store[HASH_SESSION_KEY] = user.get_session_auth_hash(); store.create(); "
        "print(store.session_key)",
    )
    assert session.returncode == 0, session.stderr
    user = User(token=made.stdout.strip(), session=session.stdout.strip(), project_id="")
    status, project = Client(server, user).call("POST", "/api/projects", {"name": "Redis"})
    assert status == 201, project
    user.project_id = project["id"]
    return user


def settings_for(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return {
        "AUTH_ENABLED": "true",
        "SESSION_SECRET": SESSION_SECRET,
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
        "REDIS_URL": redis_url,
        "WORKSPACE_ROOTS": str(tmp_path),
        "LOCAL_PROVIDER_ENABLED": "true",  # sessions run whether or not Docker is here
        "EVENTS_POLL_SECONDS": "0.5",
        "JOB_RETRY_BACKOFF_SECONDS": "0",
    }


def is_initializing(event: ServerEvent) -> bool:
    return event.type == "workspace_updated" and event.data["data"]["status"] == "initializing"


@pytest.fixture(scope="module")
def no_redis(tmp_path_factory) -> Iterator[tuple[Client, Path]]:
    """A server whose REDIS_URL is a port nothing listens on, and one user of it."""
    tmp_path = tmp_path_factory.mktemp("no-redis")
    with running_server(
        tmp_path, **settings_for(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    ) as server:
        yield Client(server, sign_up(server, "ann@example.com")), tmp_path


def test_without_redis_tokens_still_work_and_bad_ones_get_401(no_redis):
    client, _ = no_redis

    assert client.call("GET", "/api/projects")[0] == 200
    bad = Client(client.server, User(token="dbt_guess", session="", project_id=""))
    for _ in range(20):
        assert bad.call("GET", "/api/projects") == (401, {"error": "Invalid token"})

    log = client.server.log.read_text()  # a warning per pause of 10 s, not one per request
    assert 1 <= log.count("is off for 10 s: the cache is unavailable") < 10


def test_without_redis_a_browser_creates_its_workspace_once(no_redis):
    client, tmp_path = no_redis
    folder = tmp_path / "browser"
    folder.mkdir()

    status, workspace = client.call("POST", client.workspaces(), {"path": str(folder)}, cookie=True)

    assert status == 201, workspace
    status, listed = client.call("GET", client.workspaces(), cookie=True)
    assert [item["id"] for item in listed["workspaces"] if item["path"] == str(folder)] == [
        workspace["id"]
    ]


def test_without_redis_streams_poll_and_readyz_says_so(no_redis):
    client, tmp_path = no_redis
    stream = client.events()
    folder = tmp_path / "streamed"
    folder.mkdir()
    try:
        status, workspace = client.call("POST", client.workspaces(), {"path": str(folder)})
        assert status == 201
        stream.collect(until=is_initializing, timeout=30)
    finally:
        stream.close()

    assert stream.events[-1].data["data"]["workspaceId"] == workspace["id"]
    status, ready = client.call("GET", "/readyz")
    assert status == 503
    assert ready["checks"]["redis"] == {"status": "error", "error": "Redis unavailable"}
    assert client.call("GET", "/health") == (200, {"status": "ok"})


def test_redis_cut_mid_test_degrades_then_recovers(tmp_path):
    redis.Redis.from_url(REDIS_URL).ping()
    proxy = TcpProxy(6379)
    proxied = f"redis://127.0.0.1:{proxy.port}/7"
    try:
        with running_server(tmp_path, **settings_for(tmp_path, proxied)) as server:
            client = Client(server, sign_up(server, "bob@example.com"))
            stream = client.events()
            try:
                added = [client_add_workspace(client, tmp_path / "before")]
                stream.collect(until=is_initializing)
                assert client.call("GET", "/readyz")[0] == 200

                with proxy.outage():
                    assert client.call("GET", "/api/projects")[0] == 200
                    added.append(client_add_workspace(client, tmp_path / "during", cookie=True))
                    stream.collect(until=is_initializing)
                    assert client.call("GET", "/readyz")[0] == 503

                assert client.call("GET", "/readyz")[0] == 200
                added.append(client_add_workspace(client, tmp_path / "after"))
                stream.collect(until=is_initializing)
            finally:
                stream.close()
    finally:
        proxy.close()

    assert [event.data["seq"] for event in stream.events] == [1, 2, 3]
    assert [event.data["data"]["workspaceId"] for event in stream.events] == added


def client_add_workspace(client: Client, folder: Path, *, cookie: bool = False) -> str:
    folder.mkdir()
    status, workspace = client.call(
        "POST", client.workspaces(), {"path": str(folder)}, cookie=cookie
    )
    assert status == 201, workspace
    return workspace["id"]
