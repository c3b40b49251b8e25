"""Every WebSocket goes through one door: the caller is resolved as for HTTP (anonymous mode, a
session cookie, a bearer token), a page on a foreign site is refused at the handshake, and a
project WebSocket checks membership as a project's HTTP endpoints do.

Shown with a probe consumer mounted in the real `discobot.asgi.application`."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps.accounts.services import api_token_create
from apps.projects.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, ProjectScopedConsumer
from apps.projects.models import LOCAL_PROJECT_ID, Role
from tests.servers import (
    BASE_DIR,
    clean_environment,
    free_port,
    manage,
    server_database_url,
    stop_process,
    wait_until_healthy,
)
from tests.websockets import (
    PROBE_PATH,
    Outcome,
    RawWebSocket,
    probe_route,
    session_cookie,
    websocket_outcome,
)

# Consumers reach the database from other threads: the test's data must be committed (and
# the migrations' local project restored after another such test emptied the tables).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ALLOWED_FAILURES = 10
PROBE_APP = "tests.system.probe_asgi:application"


@pytest.fixture(autouse=True)
def probe():
    with probe_route():
        yield


def probe_path(project_id: str) -> str:
    return "/" + PROBE_PATH.format(project_id=project_id)


def test_anonymous_mode_lets_the_local_user_in():
    outcome = websocket_outcome(probe_path(LOCAL_PROJECT_ID))

    assert outcome.accepted
    assert outcome.message is not None
    assert outcome.message["projectId"] == LOCAL_PROJECT_ID
    assert outcome.message["signedInWith"] == "anonymous-mode"


def test_a_session_cookie_is_accepted(auth_enabled, project, member):
    outcome = websocket_outcome(probe_path(project.id), session=session_cookie(member))

    assert outcome.message == {
        "projectId": project.id,
        "userId": str(member.id),
        "role": Role.MEMBER,
        "signedInWith": "session",
    }


def test_a_bearer_token_is_accepted(auth_enabled, project, owner):
    _, token = api_token_create(user=owner, name="cli")

    outcome = websocket_outcome(probe_path(project.id), bearer=token)

    assert outcome.message is not None
    assert outcome.message["userId"] == str(owner.id)
    assert outcome.message["signedInWith"] == "token"


def test_no_credentials_are_refused_at_the_handshake(auth_enabled, project):
    assert not websocket_outcome(probe_path(project.id)).accepted


@pytest.mark.parametrize("cookie", ["forged", ""])
def test_a_session_cookie_that_is_no_login_is_refused(auth_enabled, project, cookie):
    assert not websocket_outcome(probe_path(project.id), session=cookie).accepted


def test_a_bad_token_is_refused_and_counted_with_the_http_failures(auth_enabled, project, owner):
    address = "203.0.113.40"
    _, good = api_token_create(user=owner, name="cli")
    for _ in range(ALLOWED_FAILURES):
        refused = websocket_outcome(
            probe_path(project.id), bearer="dbt_guess", client_address=address
        )
        assert not refused.accepted

    http = APIClient(REMOTE_ADDR=address)
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {good}")

    # One counter for both: the address is limited over HTTP too, even with a good token.
    assert http.get("/api/projects").status_code == 429
    limited = websocket_outcome(probe_path(project.id), bearer=good, client_address=address)
    assert not limited.accepted
    # Another address is not.
    assert websocket_outcome(
        probe_path(project.id), bearer=good, client_address="198.51.100.40"
    ).accepted


def test_http_failures_limit_websocket_tokens_too(auth_enabled, project, owner):
    address = "203.0.113.41"
    _, good = api_token_create(user=owner, name="cli")
    guesser = APIClient(REMOTE_ADDR=address)
    guesser.credentials(HTTP_AUTHORIZATION="Bearer dbt_guess")
    for _ in range(ALLOWED_FAILURES):
        assert guesser.get("/api/projects").status_code == 401

    assert not websocket_outcome(
        probe_path(project.id), bearer=good, client_address=address
    ).accepted


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost.evil.example", "null"])
def test_a_page_on_a_foreign_site_is_refused_with_a_login(auth_enabled, project, member, origin):
    outcome = websocket_outcome(
        probe_path(project.id), session=session_cookie(member), origin=origin
    )

    assert not outcome.accepted


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://[::1"])
def test_a_page_on_a_foreign_site_is_refused_in_anonymous_mode(origin):
    assert not websocket_outcome(probe_path(LOCAL_PROJECT_ID), origin=origin).accepted


def test_a_server_name_not_in_allowed_hosts_is_refused():
    # A DNS-rebinding page is its own origin; its name is not one of ours.
    outcome = websocket_outcome(
        probe_path(LOCAL_PROJECT_ID), host="rebound.example", origin="http://rebound.example"
    )

    assert not outcome.accepted


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost:3001", "http://localhost:3001"),  # the server's own page
        ("127.0.0.1:3001", "http://127.0.0.1:3001"),
        ("localhost:3001", "http://localhost:3000"),  # CORS_ORIGINS: the web app's dev server
        ("localhost:3001", "http://app.localhost:3001"),  # CORS_ORIGINS: http://*.localhost:3001
    ],
)
def test_this_server_and_cors_origins_are_accepted(auth_enabled, project, member, host, origin):
    outcome = websocket_outcome(
        probe_path(project.id), session=session_cookie(member), host=host, origin=origin
    )

    assert outcome.accepted
    assert outcome.message is not None


def test_cors_origins_come_from_the_setting(auth_enabled, project, member, settings):
    settings.CORS_ALLOWED_ORIGIN_REGEXES = [r"^https://app\.example\.com$"]
    cookie = session_cookie(member)

    ok = websocket_outcome(probe_path(project.id), session=cookie, origin="https://app.example.com")
    other = websocket_outcome(
        probe_path(project.id), session=cookie, origin="http://localhost:3000"
    )

    assert ok.accepted
    assert not other.accepted


def test_a_member_of_another_project_is_closed_as_not_found(auth_enabled, project, outsider):
    outcome = websocket_outcome(probe_path(project.id), session=session_cookie(outsider))

    assert outcome == Outcome(accepted=True, close_code=CLOSE_NOT_FOUND)


def test_a_project_that_does_not_exist_looks_the_same(auth_enabled, outsider):
    missing = "6f1c7a52-0000-4000-8000-000000000000"

    outcome = websocket_outcome(probe_path(missing), session=session_cookie(outsider))

    assert outcome.close_code == CLOSE_NOT_FOUND


def test_a_member_without_the_role_is_closed_as_forbidden(
    auth_enabled, project, member, admin, monkeypatch
):
    monkeypatch.setattr(ProjectScopedConsumer, "required_role", Role.ADMIN)

    refused = websocket_outcome(probe_path(project.id), session=session_cookie(member))
    allowed = websocket_outcome(probe_path(project.id), session=session_cookie(admin))

    assert refused.close_code == CLOSE_FORBIDDEN
    assert allowed.message is not None


# --- Through a real server ----------------------------------------------------------------------


@contextlib.contextmanager
def probe_server(tmp_path: Path) -> Iterator[str]:
    """The server serving the real application with the probe route (tests.system.probe_asgi)."""
    with server_database_url(tmp_path) as database_url:
        env = clean_environment(DATA_DIR=str(tmp_path / "data"), DATABASE_URL=database_url)
        migrated = manage("migrate", "--noinput", env=env)
        assert migrated.returncode == 0, migrated.stderr
        port = free_port()
        with (tmp_path / "server.log").open("a") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "discobot.server",
                    "--port",
                    str(port),
                    "--app",
                    PROBE_APP,
                    "--workers",
                    "1",
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            base_url = f"http://127.0.0.1:{port}"
            try:
                wait_until_healthy(base_url, process)
                yield base_url
            finally:
                stop_process(process, timeout=10)


def test_a_real_server_lets_its_own_page_in_and_refuses_a_foreign_one(tmp_path):
    with probe_server(tmp_path) as base_url:
        own = RawWebSocket(base_url + probe_path(LOCAL_PROJECT_ID), {"Origin": base_url})
        foreign = RawWebSocket(
            base_url + probe_path(LOCAL_PROJECT_ID), {"Origin": "http://evil.example"}
        )
        missing = RawWebSocket(
            base_url + probe_path("6f1c7a52-0000-4000-8000-000000000000"), {"Origin": base_url}
        )
        try:
            assert own.status == 101
            opcode, payload = own.receive()
            assert (opcode, json.loads(payload)["projectId"]) == (1, LOCAL_PROJECT_ID)

            assert foreign.status == 403

            assert missing.status == 101
            opcode, payload = missing.receive()
            assert opcode == 8  # close
            assert int.from_bytes(payload[:2], "big") == CLOSE_NOT_FOUND
        finally:
            for socket_ in (own, foreign, missing):
                socket_.close()
