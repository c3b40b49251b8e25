"""How the server is run: a process per core, ordinary requests on threads and streams on the
loop, a clear word when the port is taken, and a prompt stop on Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from discobot.serving import streams
from tests.servers import BASE_DIR, clean_environment, free_port, running_server


@pytest.mark.parametrize(
    ("path", "streamed"),
    [
        ("/api/projects/local/events", True),
        ("/api/projects/local/chat", True),
        ("/api/projects/local/chat/session-1/stream", True),
        ("/api/projects/local/sessions/session-1/services/web/output", True),
        ("/api/projects/local/workspaces", False),
        ("/api/projects/local/sessions/session-1", False),
        ("/health", False),
        ("/no/such/page", False),
    ],
)
def test_only_views_that_answer_an_event_stream_are_served_on_the_loop(path, streamed):
    assert streams(path) is streamed


def server_processes(pid: int) -> list[int]:
    """The worker processes the server at `pid` started (not multiprocessing's helper)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def events_read(base_url: str) -> tuple[Any, list[bytes]]:
    """The project's event stream, and its lines as a thread reads them until it is closed."""
    received: list[bytes] = []
    stream = urllib.request.urlopen(f"{base_url}/api/projects/local/events", timeout=60)

    def read() -> None:
        with contextlib.suppress(OSError, AttributeError):  # closed under it at the end
            received.extend(iter(stream.readline, b""))

    threading.Thread(target=read, daemon=True).start()
    return stream, received


def workspace_add(base_url: str, folder: Path) -> None:
    request = urllib.request.Request(
        f"{base_url}/api/projects/local/workspaces",
        data=json.dumps({"path": str(folder), "sourceType": "local"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201


def test_two_server_processes_share_the_port_and_deliver_events_across_them(tmp_path):
    with running_server(tmp_path, WEB_CONCURRENCY="2") as server:
        deadline = time.monotonic() + 30
        while len(server_processes(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(server_processes(server.pid)) == 2

        # An event stream held by one process hears of a write that any process served.
        stream, received = events_read(server.base_url)
        added = 6
        for _ in range(added):
            workspace_add(server.base_url, tmp_path)
        deadline = time.monotonic() + 30
        while (
            sum(b"workspace_updated" in line for line in received) < added
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        stream.close()
        assert sum(b"workspace_updated" in line for line in received) >= added
        assert len(get_json(f"{server.base_url}/api/projects/local/workspaces")["workspaces"]) == 6


def test_a_port_in_use_is_said_so_with_how_to_choose_another(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "discobot.server", "--port", str(port)],
            cwd=BASE_DIR,
            env=clean_environment(DATA_DIR=str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in done.stderr
    assert f"make run PORT={port + 1}" in done.stderr
    assert "Traceback" not in done.stderr


def test_ctrl_c_stops_every_server_process_promptly(tmp_path):
    port = free_port()
    env = clean_environment(DATA_DIR=str(tmp_path), WEB_CONCURRENCY="2")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=BASE_DIR, env=env, check=True
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "discobot.server", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                get_json(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                time.sleep(0.2)
        processes = server_processes(server.pid)
        assert len(processes) == 2

        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        for pid in processes:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_a_server_process_that_dies_is_replaced(tmp_path):
    with running_server(tmp_path, WEB_CONCURRENCY="2") as server:
        deadline = time.monotonic() + 30
        while len(server_processes(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        lost, kept = server_processes(server.pid)
        os.kill(lost, signal.SIGKILL)

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = server_processes(server.pid)
            if len(current) == 2 and lost not in current:
                break
            time.sleep(0.2)
        assert kept in server_processes(server.pid)
        assert len(server_processes(server.pid)) == 2
        for _ in range(20):  # whichever process a connection lands on answers
            assert get_json(f"{server.base_url}/health") == {"status": "ok"}


def test_without_redis_an_event_another_process_writes_reaches_an_open_stream_at_once(tmp_path):
    # The stream does not read its log again within the test: the worker's event can only
    # arrive through the machine's own sockets.
    with running_server(tmp_path, EVENTS_POLL_SECONDS="600") as server:
        stream, received = events_read(server.base_url)
        workspace_add(server.base_url, tmp_path)

        server.manage("worker", "--batch")  # another process runs the workspace's job
        deadline = time.monotonic() + 60
        while not any(b"job_completed" in line for line in received):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        stream.close()
        assert any(b"job_completed" in line for line in received), received
