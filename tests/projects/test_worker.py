"""The job worker as it runs in production: separate processes sharing one database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitserver import StallingProxy, git_daemon
from tests.servers import BASE_DIR, Server, running_server
from tests.waiting import wait_for

WORKER_SETTINGS = {"JOB_LEASE_SECONDS": "1", "JOB_RETRY_BACKOFF_SECONDS": "0"}


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    with running_server(tmp_path, **WORKER_SETTINGS) as running:
        yield running


def api(server: Server, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def start_worker(server: Server) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=BASE_DIR,
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def database_facts(server: Server) -> dict:
    code = (
        "import json; from apps.core.models import Job; "
        "from apps.projects.models import ProjectEvent; "
        "print(json.dumps({"
        "'attempts': [j.attempts for j in Job.objects.all()], "
        "'statuses': [j.status for j in Job.objects.all()], "
        "'ready_events': [e.data['workspaceId'] for e in ProjectEvent.objects.filter("
        "type='workspace_updated', data__status='ready')]}))"
    )
    result = server.manage("shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_job_whose_worker_was_killed_is_completed_by_another(server, git_repo, tmp_path):
    with git_daemon(git_repo.parent) as daemon_port:
        proxy = StallingProxy(daemon_port)
        workspace = api(
            server,
            "/api/projects/local/workspaces",
            {"path": f"git://127.0.0.1:{proxy.port}/{git_repo.name}", "sourceType": "git"},
        )
        url = f"/api/projects/local/workspaces/{workspace['id']}"
        first = start_worker(server)
        # The first worker is cloning, held up by the proxy:
        wait_for(lambda: api(server, url)["status"] == "cloning" and proxy.connections)

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
        proxy.release()
        second = start_worker(server)
        try:
            ready = wait_for(lambda: (body := api(server, url))["status"] == "ready" and body)
        finally:
            second.terminate()
            second.wait(timeout=60)
            proxy.close()

    assert ready["commit"]
    facts = database_facts(server)
    assert facts["statuses"] == ["completed"]
    assert facts["attempts"] == [2]  # the killed attempt, then the one that finished


def test_two_workers_never_run_the_same_job(server, tmp_path):
    folders = []
    for index in range(8):
        folder = tmp_path / f"folder{index}"
        folder.mkdir()
        folders.append(folder)
    workspace_ids = [
        api(server, "/api/projects/local/workspaces", {"path": str(folder)})["id"]
        for folder in folders
    ]
    workers = [start_worker(server), start_worker(server)]
    try:
        wait_for(
            lambda: all(
                api(server, f"/api/projects/local/workspaces/{wid}")["status"] == "ready"
                for wid in workspace_ids
            )
        )
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=60)

    facts = database_facts(server)
    assert facts["attempts"] == [1] * 8
    assert sorted(facts["ready_events"]) == sorted(workspace_ids)  # each ran exactly once


def worker_pids(log: Path) -> list[int]:
    return [int(pid) for pid in re.findall(r"worker started \(pid (\d+)\)", log.read_text())]


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_supervisor_restarts_a_worker_that_died_and_stops_it_when_stopped(server, tmp_path):
    log = tmp_path / "supervisor.log"
    log.touch()
    supervisor = server.start_worker("--supervise", log=log)
    try:
        [first] = wait_for(lambda: worker_pids(log))
        os.kill(first, signal.SIGKILL)
        second = wait_for(lambda: worker_pids(log)[1:])[0]

        folder = tmp_path / "folder"
        folder.mkdir()
        workspace = api(server, "/api/projects/local/workspaces", {"path": str(folder)})
        wait_for(
            lambda: (
                api(server, f"/api/projects/local/workspaces/{workspace['id']}")["status"]
                == "ready"
            )
        )
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=30)

    assert supervisor.returncode == 0
    assert not is_running(second)
    assert "exited with -9; restarting" in log.read_text()
