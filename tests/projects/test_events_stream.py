"""GET /api/projects/{id}/events against a real server and real worker processes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import redis
from rest_framework.test import APIClient

from tests.servers import Server, running_server
from tests.sse import EventStreamClient, ServerEvent
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db

EVENTS = "/api/projects/local/events"


def post_json(server: Server, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def run_worker(server: Server) -> None:
    result = server.manage("worker", "--batch")
    assert result.returncode == 0, result.stderr


def workspace_ready(event) -> bool:
    return event.type == "workspace_updated" and event.data["data"]["status"] == "ready"


def is_job_completed(event) -> bool:
    return event.type == "job_completed"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with running_server(
        tmp_path_factory.mktemp("events"), EVENTS_POLL_SECONDS="0.5", EVENTS_KEEPALIVE_SECONDS="1"
    ) as running:
        yield running


def test_stream_shows_a_workspace_becoming_ready(server, tmp_path):
    stream = EventStreamClient(server.base_url + EVENTS)
    assert stream.status == 200
    assert stream.response.getheader("Content-Type") == "text/event-stream"
    assert stream.response.getheader("Cache-Control") == "no-cache"
    connected = stream.take()
    assert (connected.type, connected.data) == ("connected", {"projectId": "local"})

    workspace = post_json(server, "/api/projects/local/workspaces", {"path": str(tmp_path)})
    run_worker(server)
    events = stream.collect(until=is_job_completed)
    stream.close()

    assert [(e.type, e.data["data"].get("status")) for e in events] == [
        ("workspace_updated", "initializing"),
        ("workspace_updated", "ready"),
        ("job_completed", "completed"),
    ]
    assert all(
        e.data["data"].get("workspaceId", workspace["id"]) == workspace["id"] for e in events
    )
    seqs = [e.data["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    assert [e.id for e in events] == [str(seq) for seq in seqs]
    assert set(events[0].data) == {"id", "seq", "type", "timestamp", "data"}


def test_a_client_reconnecting_after_an_id_gets_exactly_what_it_missed(server, tmp_path):
    stream = EventStreamClient(server.base_url + EVENTS)
    stream.take()  # connected
    post_json(server, "/api/projects/local/workspaces", {"path": str(tmp_path)})
    first = stream.take()
    stream.close()  # the client goes away after the first event
    run_worker(server)

    again = EventStreamClient(f"{server.base_url}{EVENTS}?after={first.data['id']}")
    assert again.take().type == "connected"
    missed = again.collect(until=is_job_completed)

    assert [e.data["seq"] for e in missed] == [first.data["seq"] + 1, first.data["seq"] + 2]
    assert again.next(timeout=1.5) is None  # nothing twice, nothing more
    again.close()


def test_last_event_id_header_resumes_too(server, tmp_path):
    stream = EventStreamClient(server.base_url + EVENTS)
    stream.take()
    post_json(server, "/api/projects/local/workspaces", {"path": str(tmp_path)})
    first = stream.take()
    stream.close()
    run_worker(server)

    resumed = EventStreamClient(server.base_url + EVENTS, headers={"Last-Event-ID": str(first.id)})
    resumed.take()
    missed = resumed.collect(until=is_job_completed)
    resumed.close()

    assert missed[0].data["seq"] == first.data["seq"] + 1


def test_since_replays_by_time(server, tmp_path):
    # The project's first event, unless a test before this one on the same server wrote it.
    post_json(server, "/api/projects/local/workspaces", {"path": str(tmp_path)})
    stream = EventStreamClient(f"{server.base_url}{EVENTS}?since=2000-01-01T00:00:00Z")
    assert stream.take().type == "connected"
    first = stream.take()
    stream.close()

    assert first.data["seq"] == 1


def test_keep_alive_comments_flow_while_idle(server):
    stream = EventStreamClient(server.base_url + EVENTS)
    stream.take()

    def kept_alive() -> bool:
        assert stream.next(timeout=0.5) is None  # idle: comments only, no event
        return "keep-alive" in stream.comments

    try:
        wait_for(kept_alive)
    finally:
        stream.close()


BAD_PARAMETERS = [
    "after=nonsense",
    "since=yesterday",
    f"after={'0' * 8}-0000-0000-0000-000000000000",
    # A Unicode digit: str.isdigit() is true for it, int() is not.
    f"after={quote('²')}",
    "after=-1",
    "after=99999999999999999999",  # beyond a 64-bit seq
    "since=99999999999999",  # unix seconds beyond the year 9999
    "since=2024-13-45T00:00:00Z",  # well-formed, but no such day
    f"since={quote('²')}",
    "since=nan",
    "since=inf",
    "since=-1",
    "since=1e400",
]


@pytest.mark.parametrize("query", BAD_PARAMETERS)
def test_bad_parameters_get_an_error_event(server, query):
    stream = EventStreamClient(f"{server.base_url}{EVENTS}?{query}")

    event = stream.take()
    stream.close()

    assert stream.status == 400
    assert event.type == "error"
    assert "error" in event.data


@pytest.mark.parametrize("last_event_id", ["²", "nonsense", "99999999999999999999", "-5"])
def test_a_bad_last_event_id_gets_an_error_event(server, last_event_id):
    stream = EventStreamClient(server.base_url + EVENTS, headers={"Last-Event-ID": last_event_id})

    event = stream.take()
    stream.close()

    assert stream.status == 400
    assert event == ServerEvent(
        type="error", data={"error": "after (or Last-Event-ID) must be an event id or seq"}
    )


@pytest.mark.parametrize("query", BAD_PARAMETERS[3:])
def test_bad_parameters_asked_as_json_get_a_json_400(server, query):
    request = urllib.request.Request(
        f"{server.base_url}{EVENTS}?{query}", headers={"Accept": "application/json"}
    )

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)

    assert refused.value.code == 400
    assert set(json.loads(refused.value.read())) == {"error"}


def test_last_event_id_wins_over_the_after_of_the_url_it_reconnects_to(server, tmp_path):
    stream = EventStreamClient(server.base_url + EVENTS)
    stream.take()
    post_json(server, "/api/projects/local/workspaces", {"path": str(tmp_path)})
    first = stream.take()
    stream.close()
    run_worker(server)

    # EventSource reconnects to its original URL, naming the last event it got in the header.
    resumed = EventStreamClient(
        f"{server.base_url}{EVENTS}?after=0", headers={"Last-Event-ID": str(first.id)}
    )
    resumed.take()
    missed = resumed.collect(until=is_job_completed)
    resumed.close()

    assert [e.data["seq"] for e in missed] == [first.data["seq"] + 1, first.data["seq"] + 2]


def test_with_redis_an_event_from_another_process_wakes_the_stream(tmp_path):
    redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    url = "redis://127.0.0.1:6379/7"
    # The table is re-read only once a day: within the deadline, only a wake-up through Redis
    # can deliver an event (however slowly a loaded machine runs the processes).
    with running_server(tmp_path, REDIS_URL=url, EVENTS_POLL_SECONDS="86400") as server:
        stream = EventStreamClient(server.base_url + EVENTS)
        stream.take()
        workspace_dir = tmp_path / "ws"
        workspace_dir.mkdir()
        post_json(server, "/api/projects/local/workspaces", {"path": str(workspace_dir)})
        assert stream.take().data["data"]["status"] == "initializing"

        run_worker(server)  # another process writes the next events

        ready = stream.take()
        stream.close()
        assert ready.data["data"]["status"] == "ready"


def test_outsider_gets_404_and_no_stream(client_for, outsider, project):
    response = client_for(outsider).get(
        f"/api/projects/{project.id}/events", HTTP_ACCEPT="text/event-stream"
    )

    assert response.status_code == 404


def test_without_login_the_stream_is_refused(auth_enabled):
    response = APIClient().get(EVENTS, HTTP_ACCEPT="text/event-stream")

    assert response.status_code == 401
    assert response.content.startswith(b"event: error\ndata: ")
