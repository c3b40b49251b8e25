"""A real Discobot server (daphne on 127.0.0.1) for end-to-end tests, on its own database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import environ
import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG_VARIABLES = (
    "DATABASE_URL",
    "DATABASE_DSN",
    "AUTH_ENABLED",
    "SESSION_SECRET",
    "ENCRYPTION_KEY",
    "REDIS_URL",
    "DATA_DIR",
    "WORKSPACE_DIR",
    "PORT",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CORS_ORIGINS",
    "DJANGO_SETTINGS_MODULE",
)


def clean_environment(**overrides: str) -> dict[str, str]:
    """The test process's environment without any Discobot setting, plus `overrides`."""
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def server_database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the kind the suite runs on (SQLite file or PostgreSQL)."""
    suite_url = os.environ.get("DATABASE_URL", "")
    if not suite_url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    config = environ.Env.db_url_config(suite_url)
    name = f"test_{config['NAME']}_server_{os.getpid()}"
    admin_dsn = suite_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield suite_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    base_url: str
    env: dict[str, str]  # for other processes (workers) of the same deployment
    log: Path

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return manage(*args, env=self.env)


@contextmanager
def running_server(tmp_path: Path, **settings: str) -> Iterator[Server]:
    """Migrates a new database and serves it with daphne."""
    with server_database_url(tmp_path) as database_url:
        env = clean_environment(DATA_DIR=str(tmp_path / "data"), DATABASE_URL=database_url)
        env.update(settings)
        migrated = manage("migrate", "--noinput", env=env)
        assert migrated.returncode == 0, migrated.stderr
        port = free_port()
        log_path = tmp_path / "server.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "discobot.asgi:application",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base_url, process)
            yield Server(base_url=base_url, env=env, log=log_path)
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()


def wait_until_healthy(base_url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("server did not become healthy")
