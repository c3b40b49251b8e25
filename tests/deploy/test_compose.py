"""compose.yaml: it validates, and the whole stack - proxy, web, realtime, worker, PostgreSQL,
Redis, all from locally built images - comes up to a green /readyz through the proxy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import ROOT, http_get, json_when_ok, requires_docker, run
from tests.waiting import wait_for


def compose_command() -> list[str] | None:
    """The Compose v2 plugin if installed, else the v1 `docker-compose`."""
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


COMPOSE = compose_command()
requires_compose = pytest.mark.skipif(
    COMPOSE is None, reason="no compose CLI (docker compose or docker-compose) is installed"
)
pytestmark = [pytest.mark.slow, requires_compose]


def compose(*args: str, project: str, env: dict[str, str], timeout: float = 300) -> str:
    assert COMPOSE is not None
    command = [*COMPOSE, "--project-directory", str(ROOT), "-p", project, *args]
    return run(*command, timeout=timeout, cwd=ROOT, env=env).stdout


@pytest.fixture
def compose_env() -> dict[str, str]:
    # Only what the stack is given here: the outer environment's settings (DATABASE_URL,
    # DATA_DIR...) are the test run's, not the stack's.
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}


@pytest.mark.parametrize("files", [["compose.yaml"], ["compose.yaml", "compose.docker.yaml"]])
def test_compose_files_validate(files: list[str], compose_env: dict[str, str]) -> None:
    flags = [arg for name in files for arg in ("-f", str(ROOT / name))]
    config = compose(*flags, "config", project="discobot-config", env=compose_env)
    for service in ("proxy", "web", "realtime", "worker", "migrate", "postgres", "redis"):
        assert f"  {service}:" in config


@pytest.fixture
def stack(images: str, compose_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """A compose project of its own, on a free port of the loopback; taken down with its
    volumes whatever the test did."""
    project = f"discobot-test-{uuid.uuid4().hex[:10]}"
    env = {**compose_env, "DISCOBOT_IMAGE": images, "HTTP_PORT": "127.0.0.1:0"}
    try:
        yield project, env
    finally:
        compose("down", "--volumes", "--remove-orphans", "-t", "5", project=project, env=env)


@requires_docker
def test_stack_comes_up_ready_through_the_proxy(stack: tuple[str, dict[str, str]]) -> None:
    project, env = stack
    compose("up", "-d", project=project, env=env, timeout=600)
    address = compose("port", "proxy", "80", project=project, env=env).strip()
    url = f"http://localhost:{address.rsplit(':', 1)[1]}"

    body = wait_for(lambda: json_when_ok(f"{url}/readyz"), timeout=180, interval=1)
    assert body["checks"] == {
        "database": {"status": "ok"},
        "redis": {"status": "ok"},
        "worker": {"status": "ok"},
    }
    assert http_get(f"{url}/health") == (200, {"status": "ok"})

    # An event stream goes to `realtime` and arrives unbuffered: its first bytes come while it
    # is still open.
    status, project_body = post_json(f"{url}/api/projects", {"name": "Deployed"})
    assert status == 201, project_body
    with urllib.request.urlopen(
        f"{url}/api/projects/{project_body['id']}/events", timeout=30
    ) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert stream.readline()

    # A service's preview host goes to `realtime` too, whose preview proxy answers for it.
    status, _ = http_get(f"{url}/preview-check", headers={"Host": "nosuch-svc-web.localhost"})
    assert status == 404

    realtime = f"upstream={container_ip(project, 'realtime', env)}:3001"
    web = f"upstream={container_ip(project, 'web', env)}:3001"
    logs = compose("logs", "--no-color", "proxy", project=project, env=env).splitlines()
    assert realtime in last_line_with(logs, "/events ")
    assert realtime in last_line_with(logs, "/preview-check ")
    assert web in last_line_with(logs, "/api/projects ")


def last_line_with(lines: list[str], text: str) -> str:
    found = [line for line in lines if text in line]
    assert found, f"no proxy log line with {text!r}"
    return found[-1]


def post_json(url: str, payload: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {"body": error.read().decode(errors="replace")}


def container_ip(project: str, service: str, env: dict[str, str]) -> str:
    container = compose("ps", "-q", service, project=project, env=env).strip()
    return run(
        "docker",
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container,
    ).stdout.strip()
