"""The deployment's images built with the local Docker engine, and helpers that run and always
remove containers, volumes and compose projects. Skipped, saying why, where no engine answers."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "discobot:deploy-test"
# Images are built once per machine and kept (docker's cache makes a rebuild quick); the lock
# keeps two test workers from building the same images at once.
BUILD_LOCK = Path("/tmp/discobot-deploy-build.lock")


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


requires_docker = pytest.mark.skipif(
    not docker_engine_answers(), reason="no Docker engine answers (docker info fails)"
)


def run(*command: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Runs a command; its output is shown when it fails."""
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="session")
def images() -> str:
    """Every image compose.yaml names, built here from the local Debian base; the server image's
    tag."""
    if shutil.which("debootstrap") is None and (
        subprocess.run(
            ["docker", "image", "inspect", "discobot-debian-base:bookworm"],
            capture_output=True,
            check=False,
        ).returncode
        != 0
    ):
        pytest.skip("debootstrap is missing and no Debian base image is built")
    with BUILD_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # A cold build installs every locked package: minutes; cached, seconds.
        run(
            "bash",
            str(ROOT / "deploy" / "build-images.sh"),
            timeout=1200,
            env={**os.environ, "DISCOBOT_IMAGE": IMAGE},
        )
    return IMAGE


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"discobot-test-{uuid.uuid4().hex[:12]}"
    run("docker", "volume", "create", name)
    yield name
    subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True, check=False)


@pytest.fixture
def containers() -> Iterator[list[str]]:
    """Names of the containers a test starts; removed with their anonymous volumes."""
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Status and JSON body; (0, {}) while nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body or b"{}")
        except ValueError:
            return error.code, {"body": body.decode(errors="replace")}
    except (OSError, ValueError):
        return 0, {}


def json_when_ok(url: str) -> dict[str, Any] | None:
    """The JSON body once `url` answers 200; None before."""
    status, body = http_get(url)
    return body if status == 200 else None
