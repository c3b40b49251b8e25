"""The server image (the top Dockerfile) built here from the local base: one image for every
process type, run as a user would run it."""

from __future__ import annotations

import pytest

from tests.deploy.conftest import http_get, json_when_ok, requires_docker, run
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow, requires_docker]


def test_image_runs_as_a_non_root_user_without_dev_tools(images: str) -> None:
    result = run(
        "docker",
        "run",
        "--rm",
        images,
        "sh",
        "-c",
        "id -un; ls /app/staticfiles; python -c 'import pytest' 2>&1 || true",
    )
    user, *rest = result.stdout.splitlines()
    assert user == "discobot"
    # collectstatic ran at build time: the admin's files are in the image.
    assert "admin" in rest
    assert "No module named 'pytest'" in result.stdout


def test_container_migrates_and_answers_health_and_readyz(
    images: str, volume: str, containers: list[str]
) -> None:
    data = f"{volume}:/data"
    run("docker", "run", "--rm", "-v", data, images, "python", "manage.py", "migrate", "--noinput")

    server, worker = f"{volume}-server", f"{volume}-worker"
    containers += [server, worker]
    run("docker", "run", "-d", "--name", server, "-v", data, "-p", "127.0.0.1::3001", images)
    run(
        "docker", "run", "-d", "--name", worker, "-v", data, images,
        "python", "manage.py", "worker", "--supervise",
    )  # fmt: skip
    address = run("docker", "port", server, "3001").stdout.split()[0]

    assert wait_for(lambda: http_get(f"http://{address}/health")[0] == 200, timeout=120)
    body = wait_for(lambda: json_when_ok(f"http://{address}/readyz"), timeout=120)
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["worker"] == {"status": "ok"}

    # The image's HEALTHCHECK asks /health: the engine reports the server healthy.
    def health() -> bool:
        state = run("docker", "inspect", "--format", "{{.State.Health.Status}}", server)
        return state.stdout.strip() == "healthy"

    assert wait_for(health, timeout=120, interval=1)
