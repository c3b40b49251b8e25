"""A real Discobot server (`python -m discobot.server` on 127.0.0.1) for end-to-end tests, on
its own database."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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
    "SANDBOX_PROVIDER",
    "LOCAL_PROVIDER_ENABLED",
    "SANDBOX_IMAGE",
    "SANDBOX_NETWORK",
    "SANDBOX_IDLE_TIMEOUT",
    "DOCKER_HOST",
    "SPA_DIST_DIR",
    "WORKSPACE_ROOTS",
    "PUBLIC_URL",
    "SECURE_COOKIES",
    "SSL_REDIRECT",
    "HSTS_SECONDS",
    "TRUSTED_PROXIES",
    "METRICS_TOKEN",
    "LOG_FORMAT",
    "WEB_CONCURRENCY",
    "HTTP_THREADS",
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
    url = postgres_database_create(suite_url, server_database_name(suite_url))
    with server_database_url_dropped(url):
        yield url


def server_database_name(suite_url: str) -> str:
    # Unique per server: a test may run several at once (and a pooled server keeps its
    # connections open, so a shared name could not be dropped and created again).
    config = environ.Env.db_url_config(suite_url)
    return f"test_{config['NAME']}_server_{os.getpid()}_{uuid.uuid4().hex[:8]}"


@contextmanager
def server_database_url_dropped(url: str) -> Iterator[None]:
    """Drops the PostgreSQL database of `url` at the end (a SQLite file goes with its folder)."""
    try:
        yield
    finally:
        if not url.startswith("sqlite:"):
            postgres_database_drop(url, url.rsplit("/", 1)[1])


@dataclass
class Server:
    base_url: str
    env: dict[str, str]  # for other processes (workers) of the same deployment
    log: Path
    pid: int = 0  # the server process's

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return manage(*args, env=self.env)

    def start_worker(self, *args: str, log: Path | None = None) -> subprocess.Popen:
        """A `manage.py worker` process of this deployment; stop it with `stop_process`."""
        output = log.open("a") if log is not None else subprocess.DEVNULL
        return subprocess.Popen(
            [sys.executable, "manage.py", "worker", *args],
            cwd=BASE_DIR,
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(
    tmp_path: Path, *, database_url: str | None = None, **settings: str
) -> Iterator[Server]:
    """Serves a new migrated database (or `database_url`, migrated) as `make run` does."""
    with contextlib.ExitStack() as stack:
        env = clean_environment(DATA_DIR=str(tmp_path / "data"))
        env.update(settings)
        if database_url is None:
            env["DATABASE_URL"] = stack.enter_context(migrated_database_url(tmp_path))
        else:
            env["DATABASE_URL"] = database_url
            migrated = manage("migrate", "--noinput", env=env)
            assert migrated.returncode == 0, migrated.stderr
        log_path = tmp_path / "server.log"
        yield stack.enter_context(serving(env, log_path))


@contextmanager
def migrated_database_url(tmp_path: Path) -> Iterator[str]:
    """A new database of the kind the suite runs on, already migrated: a copy of this test
    process's template (migrating takes seconds, and the suite starts a few hundred servers)."""
    with template_lock:
        template = template_database_url()
    if template.startswith("sqlite:"):
        database = tmp_path / "server.db"
        if not database.exists():  # else a server before this one served it (still migrated)
            database.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template.removeprefix("sqlite:///"), database)
        yield f"sqlite:///{database}"
        return
    name = server_database_name(os.environ["DATABASE_URL"])
    url = postgres_database_create(template, name, template=template.rsplit("/", 1)[1])
    with server_database_url_dropped(url):
        yield url


template_lock = threading.Lock()


@functools.cache
def template_database_url() -> str:
    """This process's migrated template, made on first use and dropped when the process ends."""
    folder = Path(tempfile.mkdtemp(prefix="discobot-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    suite_url = os.environ.get("DATABASE_URL", "")
    if suite_url.startswith(("postgres://", "postgresql://")):
        name = f"test_{environ.Env.db_url_config(suite_url)['NAME']}_template_{os.getpid()}"
        url = postgres_database_create(suite_url, name)
        atexit.register(postgres_database_drop, suite_url, name)
    else:
        url = f"sqlite:///{folder / 'template.db'}"
    migrated = manage(
        "migrate", "--noinput", env=clean_environment(DATA_DIR=str(folder), DATABASE_URL=url)
    )
    assert migrated.returncode == 0, migrated.stderr
    return url


def postgres_admin_dsn(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/postgres"


def postgres_database_create(url: str, name: str, *, template: str = "") -> str:
    """Database `name` (made anew, from `template` if given) on `url`'s server; its URL."""
    with psycopg.connect(postgres_admin_dsn(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        copied = f' TEMPLATE "{template}"' if template else ""
        connection.execute(f'CREATE DATABASE "{name}"{copied}')
    return url.rsplit("/", 1)[0] + f"/{name}"


def postgres_database_drop(url: str, name: str) -> None:
    with psycopg.connect(postgres_admin_dsn(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def serving(env: dict[str, str], log_path: Path) -> Iterator[Server]:
    """One server process with `env` (also another process of a deployment already migrated).

    One process unless `env` sets WEB_CONCURRENCY: tests look at the process they started."""
    env = {"WEB_CONCURRENCY": "1", **env}
    port = free_port()
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "discobot.server", "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base_url, process)
            yield Server(base_url=base_url, env=env, log=log_path, pid=process.pid)
        finally:
            stop_process(process, timeout=10)


class TcpProxy:
    """Forwards TCP connections to 127.0.0.1:`target_port`, like the network to a database or
    Redis. `cut()` drops every open connection and refuses new ones until `restore()`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = True
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept_forever, daemon=True).start()

    def cut(self) -> None:
        with self.lock:
            self.up = False
            sockets, self.sockets = self.sockets, set()
        for sock in sockets:
            reset(sock)

    def restore(self) -> None:
        with self.lock:
            self.up = True

    @contextmanager
    def outage(self) -> Iterator[None]:
        self.cut()
        try:
            yield
        finally:
            self.restore()

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def accept_forever(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            reset(client)
            return
        with self.lock:
            if not self.up:
                reset(client)
                reset(upstream)
                return
            self.sockets.update((client, upstream))
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=forward, args=(source, sink), daemon=True).start()


def reset(sock: socket.socket) -> None:
    """Closes with a TCP reset, as a crashed server or a refused connection looks."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading it
    with contextlib.suppress(OSError):
        sock.close()


def forward(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@dataclass
class FaultyDatabase:
    """A server database that a test can take away and give back.

    PostgreSQL is reached through a TcpProxy (`url`), so an outage cuts every connection and
    refuses new ones, as a restart does; `direct_url` bypasses it. SQLite has no connection to
    cut: its folder is moved away, so no process can open the file until it is back.
    """

    url: str
    direct_url: str
    proxy: TcpProxy | None
    folder: Path | None

    @property
    def is_postgres(self) -> bool:
        return self.proxy is not None

    def cut(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
        else:
            assert self.folder is not None
            self.folder.rename(self.folder.with_name(self.folder.name + "-away"))

    def restore(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
        else:
            assert self.folder is not None
            self.folder.with_name(self.folder.name + "-away").rename(self.folder)

    @contextmanager
    def outage(self) -> Iterator[None]:
        self.cut()
        try:
            yield
        finally:
            self.restore()


@contextmanager
def faulty_database(tmp_path: Path) -> Iterator[FaultyDatabase]:
    """A fresh database of the kind the suite runs on, which the test can take away."""
    folder = tmp_path / "database"
    folder.mkdir()
    with server_database_url(folder) as direct_url:
        if not direct_url.startswith("postgres"):
            yield FaultyDatabase(url=direct_url, direct_url=direct_url, proxy=None, folder=folder)
            return
        parts = urlsplit(direct_url)
        proxy = TcpProxy(parts.port or 5432)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = (
            f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
        )
        proxied = parts._replace(netloc=netloc)
        try:
            yield FaultyDatabase(
                url=urlunsplit(proxied), direct_url=direct_url, proxy=proxy, folder=None
            )
        finally:
            proxy.close()


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
