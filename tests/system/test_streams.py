"""Event streams against a real server: how many a process can hold, and how many a user may.

An open stream must not hold a database connection while it waits (else about a hundred of
them use up PostgreSQL's connections and every other request fails), and one user's streams
are capped, across processes when Redis is configured.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import psycopg
import pytest

from tests.servers import Server, running_server, serving
from tests.sse import EventStreamClient
from tests.waiting import wait_for

STREAMS = 12
POOL_SIZE = 4
SESSION_SECRET = "streams-session-secret-" + "x" * 32
ENCRYPTION_KEY = "ab" * 32
EVENTS = "/api/projects/local/events"


def get(server: Server, path: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(server.base_url + path, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def database_connections(server: Server) -> int:
    """Connections the server process holds to its database right now."""
    url = server.env["DATABASE_URL"]
    if url.startswith("sqlite"):
        database_file = url.removeprefix("sqlite:///")
        fds = Path(f"/proc/{server.pid}/fd")
        return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == database_file)
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()
    assert row is not None
    return row[0]


def vanish(stream: EventStreamClient) -> None:
    """The client goes away without a word (its machine crashed): a TCP reset."""
    sock = stream.connection.sock
    assert sock is not None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.close()


def test_open_streams_hold_no_database_connection(tmp_path):
    with running_server(
        tmp_path,
        DATABASE_POOL_SIZE=str(POOL_SIZE),
        EVENTS_POLL_SECONDS="0.2",
        EVENTS_MAX_STREAMS_PER_USER=str(STREAMS),
    ) as server:
        streams = [EventStreamClient(server.base_url + EVENTS) for _ in range(STREAMS)]
        try:
            assert [stream.take().type for stream in streams] == ["connected"] * STREAMS
            time.sleep(1)  # every stream has read the table a few times since

            held = database_connections(server)
            assert get(server, "/api/projects") == 200  # other requests still get a connection
        finally:
            for stream in streams:
                stream.close()

    assert held <= POOL_SIZE < STREAMS


@pytest.fixture(scope="module")
def users_server(tmp_path_factory) -> Iterator[tuple[Server, str, str]]:
    """A server with auth on, at most 2 streams per user, and two users with a token each."""
    with running_server(
        tmp_path_factory.mktemp("streams"),
        AUTH_ENABLED="true",
        SESSION_SECRET=SESSION_SECRET,
        ENCRYPTION_KEY=ENCRYPTION_KEY,
        EVENTS_MAX_STREAMS_PER_USER="2",
    ) as server:
        yield server, user_token(server, "ann@example.com"), user_token(server, "bob@example.com")


def user_token(server: Server, email: str) -> str:
    made = server.manage("create_token", "--email", email, "--create-user")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def user_project(server: Server, token: str) -> str:
    request = urllib.request.Request(
        server.base_url + "/api/projects",
        data=json.dumps({"name": "Streams"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["id"]


def open_stream(server: Server, token: str, project_id: str) -> EventStreamClient:
    return EventStreamClient(
        f"{server.base_url}/api/projects/{project_id}/events",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_a_users_streams_are_capped_with_a_429_that_others_do_not_see(users_server):
    server, ann, bob = users_server
    ann_project, bob_project = user_project(server, ann), user_project(server, bob)
    with ExitStack() as stack:
        for _ in range(2):
            stream = stack.enter_context(closing(open_stream(server, ann, ann_project)))
            assert stream.status == 200

        refused = stack.enter_context(closing(open_stream(server, ann, ann_project)))
        as_json = urllib.request.Request(
            f"{server.base_url}/api/projects/{ann_project}/events",
            headers={"Authorization": f"Bearer {ann}", "Accept": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused_as_json:
            urllib.request.urlopen(as_json, timeout=30)
        bobs = stack.enter_context(closing(open_stream(server, bob, bob_project)))

        assert refused.status == 429
        event = refused.take()
        assert (event.type, event.data) == (
            "error",
            {"error": "Too many open event streams (at most 2 per user)"},
        )
        assert refused_as_json.value.code == 429
        assert json.loads(refused_as_json.value.read()) == event.data
        assert bobs.status == 200


def test_a_stream_whose_client_vanished_frees_its_slot(users_server):
    server, ann, _ = users_server
    project = user_project(server, ann)
    first = open_stream(server, ann, project)
    second = open_stream(server, ann, project)
    assert (first.status, second.status) == (200, 200)

    vanish(first)

    def opened() -> EventStreamClient | None:
        stream = open_stream(server, ann, project)
        if stream.status == 200:
            return stream
        stream.close()
        return None

    third = wait_for(opened)
    third.close()
    second.close()


def test_with_redis_the_cap_counts_a_users_streams_in_every_process(tmp_path):
    with running_server(
        tmp_path,
        AUTH_ENABLED="true",
        SESSION_SECRET=SESSION_SECRET,
        ENCRYPTION_KEY=ENCRYPTION_KEY,
        EVENTS_MAX_STREAMS_PER_USER="2",
        REDIS_URL="redis://127.0.0.1:6379/8",
    ) as first_process:
        token = user_token(first_process, "carol@example.com")
        project = user_project(first_process, token)
        with serving(first_process.env, tmp_path / "second.log") as second_process:
            streams = [open_stream(first_process, token, project) for _ in range(2)]
            elsewhere = open_stream(second_process, token, project)
            try:
                assert [stream.status for stream in streams] == [200, 200]
                assert elsewhere.status == 429
            finally:
                for stream in [*streams, elsewhere]:
                    stream.close()
