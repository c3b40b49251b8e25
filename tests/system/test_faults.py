"""The database goes away under a real server and real worker processes, and comes back.

On PostgreSQL a TCP proxy the test controls stands between every process and the database and
plays a restart: it cuts every connection and refuses new ones for a few seconds. On SQLite the
database's folder is moved away, so that no process can open the file. The server and the
worker must recover by themselves, and open event streams must miss nothing.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gitserver import StallingProxy, git_daemon
from tests.servers import (
    FaultyDatabase,
    Server,
    faulty_database,
    manage,
    running_server,
    stop_process,
)
from tests.sse import BrowserEventSource, ServerEvent
from tests.waiting import wait_for

# Short leases, retries and pool waits, so that recovery takes seconds.
FAULT_SETTINGS = {
    "JOB_LEASE_SECONDS": "2",
    "JOB_RETRY_BACKOFF_SECONDS": "0",
    "WORKER_POLL_SECONDS": "0.2",
    "DATABASE_RETRY_MAX_SECONDS": "1",
    "DATABASE_POOL_TIMEOUT": "2",
    "EVENTS_POLL_SECONDS": "0.5",
    "EVENTS_KEEPALIVE_SECONDS": "0.5",
}
OUTAGE_SECONDS = 4
WORKSPACES = "/api/projects/local/workspaces"
EVENTS = "/api/projects/local/events"


@pytest.fixture
def database(tmp_path) -> Iterator[FaultyDatabase]:
    with faulty_database(tmp_path) as faulty:
        yield faulty


@pytest.fixture
def server(tmp_path, database) -> Iterator[Server]:
    with running_server(tmp_path, database_url=database.url, **FAULT_SETTINGS) as running:
        yield running


def request(server: Server, path: str, body: dict | None = None) -> tuple[int, Any]:
    call = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def workspace_add(server: Server, folder: Path) -> str:
    """Adds a local-folder workspace, retrying while the server cannot reach its database."""
    folder.mkdir()

    def added() -> str | None:
        status, body = request(server, WORKSPACES, {"path": str(folder)})
        return body["id"] if status == 201 else None

    return wait_for(added)


def workspace_ready(server: Server, workspace_id: str) -> bool:
    status, body = request(server, f"{WORKSPACES}/{workspace_id}")
    return status == 200 and body["status"] == "ready"


def job_facts(server: Server, database_url: str | None = None) -> dict[str, list]:
    code = (
        "import json; from apps.core.models import Job; "
        "jobs = Job.objects.order_by('created_at'); "
        "print(json.dumps({'attempts': [j.attempts for j in jobs], "
        "'statuses': [j.status for j in jobs]}))"
    )
    env = {**server.env, "DATABASE_URL": database_url} if database_url else server.env
    result = manage("shell", "--no-imports", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def job_completed_for(workspace_id: str) -> Callable[[ServerEvent], bool]:
    return lambda event: (
        event.type == "job_completed" and event.data["data"]["resourceId"] == workspace_id
    )


class RequestLoad:
    """Requests in a loop while the test runs, as clients keep calling during an outage."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.statuses: list[int] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.statuses.append(request(self.server, WORKSPACES)[0])
            except (OSError, ValueError):
                self.statuses.append(0)
            time.sleep(0.05)

    def stop(self) -> list[int]:
        self.stopped.set()
        self.thread.join(timeout=60)
        return self.statuses


def test_postgresql_restarted_under_load_everything_recovers_and_streams_miss_nothing(
    server, database, tmp_path
):
    if not database.is_postgres:
        pytest.skip("a PostgreSQL restart needs PostgreSQL; this run uses SQLite")
    worker = server.start_worker(log=tmp_path / "worker.log")
    streams = [BrowserEventSource(server.base_url + EVENTS) for _ in range(3)]
    load = RequestLoad(server)
    try:
        before = workspace_add(server, tmp_path / "before")
        wait_for(lambda: workspace_ready(server, before))

        with database.outage():
            time.sleep(OUTAGE_SECONDS / 2)
            # Another process (which still reaches the database) writes during the outage.
            recorded = manage(
                "shell",
                "--no-imports",
                "-c",
                "from apps.projects.events import SessionUpdated; "
                "from apps.projects.services import project_event_record; "
                "project_event_record(project_id='local', "
                "event=SessionUpdated(session_id='during-the-outage', status='ready'))",
                env={**server.env, "DATABASE_URL": database.direct_url},
            )
            assert recorded.returncode == 0, recorded.stderr
            time.sleep(OUTAGE_SECONDS / 2)

        after = workspace_add(server, tmp_path / "after")
        wait_for(lambda: workspace_ready(server, after))
        for stream in streams:
            stream.collect(until=job_completed_for(after))
        wait_for(lambda: load.statuses[-20:].count(200) == 20)
        statuses = load.stop()
        assert worker.poll() is None, "the worker exited"
    finally:
        load.stop()
        stop_process(worker)
        for stream in streams:
            stream.close()

    assert statuses[-20:] == [200] * 20
    for stream in streams:
        seqs = [event.data["seq"] for event in stream.events]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # in order, none missed or twice
        assert [event.id for event in stream.events] == [str(seq) for seq in seqs]
        assert "during-the-outage" in [
            event.data["data"].get("sessionId") for event in stream.events
        ]
    assert job_facts(server) == {"attempts": [1, 1], "statuses": ["completed", "completed"]}


def test_the_worker_outlives_a_database_outage_and_runs_the_next_job(server, database, tmp_path):
    worker = server.start_worker(log=tmp_path / "worker.log")
    try:
        first = workspace_add(server, tmp_path / "first")
        wait_for(lambda: workspace_ready(server, first))

        with database.outage():
            time.sleep(OUTAGE_SECONDS)
            assert worker.poll() is None, "the worker exited during the outage"

        second = workspace_add(server, tmp_path / "second")
        wait_for(lambda: workspace_ready(server, second))
        assert worker.poll() is None
    finally:
        stop_process(worker)

    assert job_facts(server) == {"attempts": [1, 1], "statuses": ["completed", "completed"]}
    log = (tmp_path / "worker.log").read_text()
    assert log.count("database unavailable") == 1  # once per outage, not once per poll
    assert "Traceback" not in log


def test_a_job_cut_off_by_the_outage_runs_again_without_using_an_attempt(
    server, database, tmp_path, git_repo
):
    if not database.is_postgres:
        pytest.skip("an open SQLite file cannot be taken from a running process")
    with git_daemon(git_repo.parent) as daemon_port:
        git = StallingProxy(daemon_port)
        status, workspace = request(
            server,
            WORKSPACES,
            {"path": f"git://127.0.0.1:{git.port}/{git_repo.name}", "sourceType": "git"},
        )
        assert status == 201
        worker = server.start_worker(log=tmp_path / "worker.log")
        try:
            wait_for(lambda: git.connections)  # the worker is cloning, held up by the proxy
            with database.outage():
                git.release()  # the clone ends while the database is away
                time.sleep(OUTAGE_SECONDS)
            wait_for(lambda: workspace_ready(server, workspace["id"]))
            assert worker.poll() is None
        finally:
            stop_process(worker)
            git.close()

    assert job_facts(server) == {"attempts": [1], "statuses": ["completed"]}


def test_health_stays_ok_while_readyz_reports_the_database(server, database):
    assert request(server, "/readyz") == (
        200,
        {"status": "ok", "checks": {"database": {"status": "ok"}, "worker": {"status": "ok"}}},
    )

    with database.outage():
        status, body = request(server, "/readyz")
        assert request(server, "/health") == (200, {"status": "ok"})
        # An API call meanwhile says why it failed, and that trying again later may work.
        # (A moved SQLite file stays readable through the connections the request threads
        # hold; /readyz says it is gone all the same.)
        if database.is_postgres:
            assert request(server, "/api/projects") == (503, {"error": "Database unavailable"})

    assert status == 503
    assert body["status"] == "error"
    assert body["checks"]["database"] == {"status": "error", "error": "Database unavailable"}
    assert wait_for(lambda: request(server, "/readyz")[0] == 200)


def test_readyz_reports_jobs_that_no_worker_takes(database, tmp_path):
    with running_server(
        tmp_path, database_url=database.url, WORKER_STALE_SECONDS="1", **FAULT_SETTINGS
    ) as server:
        workspace_add(server, tmp_path / "waiting")

        def readyz_refused() -> tuple[int, Any] | None:
            answer = request(server, "/readyz")
            return answer if answer[0] == 503 else None

        status, body = wait_for(readyz_refused)

        assert status == 503
        assert body["checks"]["worker"] == {
            "status": "error",
            "error": "Jobs are waiting and no worker is taking them",
        }
        worker = server.start_worker()
        try:
            assert wait_for(lambda: request(server, "/readyz")[0] == 200)
        finally:
            stop_process(worker)


def test_an_open_stream_keeps_its_keepalives_through_an_outage_and_misses_nothing(
    server, database, tmp_path
):
    worker = server.start_worker()
    stream = BrowserEventSource(server.base_url + EVENTS)
    try:
        first = workspace_add(server, tmp_path / "first")
        stream.collect(until=job_completed_for(first))

        with database.outage():
            keepalives = len(stream.comments)
            assert stream.stream.next(timeout=OUTAGE_SECONDS) is None
            assert len(stream.comments) > keepalives  # the connection is visibly alive
            assert not stream.stream.ended

        second = workspace_add(server, tmp_path / "second")
        stream.collect(until=job_completed_for(second))
    finally:
        stream.close()
        stop_process(worker)

    seqs = [event.data["seq"] for event in stream.events]
    assert seqs == list(range(1, 7))
    assert stream.reconnections == 0
    log = server.log.read_text()  # once per outage, not once per read of every stream
    assert log.count("database unavailable") == 1
    assert log.count("database available again") == 1
