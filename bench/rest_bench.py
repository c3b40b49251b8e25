"""REST figures: Discobot as it is served against a minimal Django + DRF app, measured with wrk.

    .venv/bin/python bench/rest_bench.py [--database sqlite|postgres|both] [--seconds 15]
                                         [--rounds 2] [--connections 16] [--redis URL]

Both servers hold the same rows: a project with 20 workspaces and one session, and a user with
an API token (auth on). The baseline (bench/baseline) is what `startproject` and DRF give with
token authentication, under gunicorn with 2 sync workers. Discobot is served by its own serving
command (`python -m discobot.server`, as `make run`, the Procfile and compose run it).

Load comes from wrk (Debian's package) in its own process on loopback, `--connections`
connections on 2 threads; each figure is run `--rounds` times, alternating baseline and
Discobot, and the medians are compared:

- the listing of 20 workspaces: requests/s at least 1.5x the baseline's, p99 no worse, on each
  database, and on PostgreSQL again with REDIS_URL set (the production channel layer);
- one session read, and a workspace added from a local folder (POST): at least 1.0x. The
  baseline's add writes what Discobot's does (the workspace, an audit entry, a numbered project
  event, a job), each with plain ORM calls in one transaction.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import Row, emit  # noqa: E402
from tests.servers import clean_environment, free_port  # noqa: E402

PYTHON = sys.executable
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
WORKSPACES = 20
SESSION_ID = "bench-session-0001"

OURS_SEED = """
from apps.accounts.models import User
from apps.accounts.services import api_token_create
from apps.projects.services import project_create
from apps.workspaces.models import Session, Workspace

user = User.objects.create_user("bench@example.com")
project = project_create(user=user, name="Bench")
workspaces = [
    Workspace.objects.create(
        project=project, path=f"{FOLDER}/w{index}", real_path=f"{FOLDER}/w{index}",
        display_name=f"Workspace {index}", status="ready", commit="0" * 40,
    )
    for index in range(WORKSPACES)
]
Session.objects.create(
    id=SESSION_ID, project=project, workspace=workspaces[0], name="Bench", status="ready"
)
print(json.dumps({"project": project.id, "token": api_token_create(user=user, name="b")[1]}))
"""

BASELINE_SEED = """
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from bench.baseline.models import Project, Session, Workspace

call_command("migrate", run_syncdb=True, verbosity=0)
user = User.objects.create_user("bench")
project = Project.objects.create(id="bench", name="Bench")
workspaces = [
    Workspace.objects.create(
        project=project, path=f"{FOLDER}/w{index}", display_name=f"Workspace {index}",
        status="ready", commit="0" * 40,
    )
    for index in range(WORKSPACES)
]
Session.objects.create(
    id=SESSION_ID, project=project, workspace=workspaces[0], name="Bench", status="ready"
)
print(json.dumps({"project": project.id, "token": Token.objects.create(user=user).key}))
"""


@dataclass(frozen=True)
class Site:
    name: str
    base_url: str
    project: str
    authorization: str


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def seed(script: str, env: dict[str, str], folder: Path) -> dict[str, str]:
    prelude = (
        "import json, django; django.setup()\n"
        f"FOLDER = {str(folder)!r}; WORKSPACES = {WORKSPACES}; SESSION_ID = {SESSION_ID!r}\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", prelude + script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"seeding failed:\n{done.stderr[-3000:]}")
    seeded: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return seeded


def wait_for(url: str, process: subprocess.Popen[bytes], deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {deadline} s")


@contextmanager
def serving(command: list[str], env: dict[str, str], url: str) -> Iterator[None]:
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(url, process)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def database_url(database: str, name: str, folder: Path) -> str:
    if database == "sqlite":
        return f"sqlite:///{folder / (name + '.db')}"
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", name], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    return f"{PG_SERVER}/{name}"


@contextmanager
def ours(database: str, tmp: Path, redis: str, overrides: dict[str, str]) -> Iterator[Site]:
    data = tmp / "ours"
    data.mkdir()
    env = clean_environment(
        DATA_DIR=str(data),
        DATABASE_URL=database_url(database, "discobot_restbench_ours", tmp),
        AUTH_ENABLED="true",
        SESSION_SECRET=secrets.token_urlsafe(48),
        ENCRYPTION_KEY=secrets.token_hex(32),
        WORKSPACE_ROOTS=str(tmp),
        LOG_LEVEL="WARNING",
        **({"REDIS_URL": redis} if redis else {}),
        **overrides,
    )
    migrated = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True
    )
    if migrated.returncode:
        raise RuntimeError(migrated.stderr.decode()[-3000:])
    seeded = seed(
        OURS_SEED, {**env, "DJANGO_SETTINGS_MODULE": "discobot.settings"}, tmp / "folders"
    )
    port = free_port()
    command = [PYTHON, "-m", "discobot.server", "--host", "127.0.0.1", "--port", str(port)]
    base_url = f"http://127.0.0.1:{port}"
    with serving(command, env, f"{base_url}/health"):
        yield Site("ours", base_url, seeded["project"], f"Bearer {seeded['token']}")


@contextmanager
def baseline(database: str, tmp: Path) -> Iterator[Site]:
    env = clean_environment(
        DJANGO_SETTINGS_MODULE="bench.baseline.settings",
        BASELINE_DATABASE_URL=database_url(database, "discobot_restbench_baseline", tmp),
        PYTHONPATH=str(ROOT),
    )
    seeded = seed(BASELINE_SEED, env, tmp / "folders")
    port = free_port()
    command = [
        *gunicorn(),
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "bench.baseline.wsgi:application",
    ]
    base_url = f"http://127.0.0.1:{port}"
    with serving(command, env, f"{base_url}/api/projects/bench/workspaces"):
        yield Site("baseline", base_url, seeded["project"], f"Token {seeded['token']}")


def gunicorn() -> list[str]:
    return [str(Path(PYTHON).parent / "gunicorn")]


SOCKET_ERRORS = r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
DURATION = re.compile(r"([\d.]+)(us|ms|s|m)\b")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def milliseconds(text: str) -> float:
    match = DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * UNITS_MS[match[2]]


def wrk(site: Site, path: str, args: argparse.Namespace, body: str | None = None) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.headers["Authorization"] = "{site.authorization}"\n')
        if body is not None:
            script.write('wrk.method = "POST"\n')
            script.write('wrk.headers["Content-Type"] = "application/json"\n')
            script.write(f"wrk.body = {json.dumps(body)}\n")
    try:
        done = subprocess.run(
            [
                "wrk",
                "--threads",
                "2",
                "--connections",
                str(args.connections),
                "--duration",
                f"{args.seconds}s",
                "--latency",
                "--script",
                script.name,
                site.base_url + path.format(project=site.project),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(script.name)
    out = done.stdout
    if not re.search(r"^\s+99%", out, re.M):
        raise RuntimeError(f"wrk measured nothing:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = milliseconds(re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M)[1])  # type: ignore[index]
    p99 = milliseconds(re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M)[1])  # type: ignore[index]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(SOCKET_ERRORS, out)
    errors = int(non_2xx[1]) if non_2xx else 0
    if socket_errors:
        errors += sum(int(count) for count in socket_errors.groups())
    return Load(rate, p50, p99, errors)


def compare(
    label: str,
    path: str,
    sites: tuple[Site, Site],
    args: argparse.Namespace,
    *,
    goal: float,
    p99_goal: bool = False,
    body: str | None = None,
) -> list[Row]:
    base, ours_site = sites
    runs: dict[str, list[Load]] = {"baseline": [], "ours": []}
    for site in (base, ours_site):  # warm-up: imports, caches, connections
        wrk(site, path, argparse.Namespace(**{**vars(args), "seconds": 2}), body)
    for _ in range(args.rounds):
        for site in (base, ours_site):
            runs[site.name].append(wrk(site, path, args, body))
    for name, loads in runs.items():
        for load in loads:
            print(
                f"  {label}, {name}: {load.requests_per_second:.0f} req/s, p50 {load.p50_ms:.1f} "
                f"ms, p99 {load.p99_ms:.1f} ms, errors {load.errors}",
                flush=True,
            )
    rate = {n: statistics.median(x.requests_per_second for x in runs[n]) for n in runs}
    p99 = {n: statistics.median(x.p99_ms for x in runs[n]) for n in runs}
    clean = all(load.errors == 0 for loads in runs.values() for load in loads)
    return [
        Row(
            f"{label}: requests/s",
            rate["ours"],
            rate["baseline"],
            f">= {goal}x",
            clean and rate["ours"] >= goal * rate["baseline"],
        ),
        Row(
            f"{label}: p99 ms",
            p99["ours"],
            p99["baseline"],
            "<= 1.0x" if p99_goal else "",
            p99["ours"] <= p99["baseline"] if p99_goal else None,
        ),
    ]


def bench_database(database: str, args: argparse.Namespace) -> list[Row]:
    title = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[database]
    rows: list[Row] = []
    redis_runs = [""] + ([args.redis] if database == "postgres" and args.redis else [])
    for redis in redis_runs:
        with tempfile.TemporaryDirectory(prefix="restbench") as name:
            tmp = Path(name)
            (tmp / "folders").mkdir()
            for index in range(WORKSPACES):
                (tmp / "folders" / f"w{index}").mkdir()
            with baseline(database, tmp) as base, ours(database, tmp, redis, dict(args.set)) as our:
                sites = (base, our)
                suffix = f"{title}{', REDIS_URL' if redis else ''}"
                print(f"== {suffix}", flush=True)
                rows += compare(
                    f"list 20 workspaces, {suffix}",
                    "/api/projects/{project}/workspaces",
                    sites,
                    args,
                    goal=1.5,
                    p99_goal=True,
                )
                if redis:
                    continue
                rows += compare(
                    f"read a session, {suffix}",
                    f"/api/projects/{{project}}/sessions/{SESSION_ID}",
                    sites,
                    args,
                    goal=1.0,
                )
                rows += compare(
                    f"add a workspace, {suffix}",
                    "/api/projects/{project}/workspaces",
                    sites,
                    args,
                    goal=1.0,
                    body=json.dumps({"path": str(tmp / "folders" / "w0"), "sourceType": "local"}),
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=lambda pair: tuple(pair.split("=", 1)),
        metavar="NAME=VALUE",
        help="a setting for Discobot's server (e.g. HTTP_THREADS=8)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    databases = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    rows: list[Row] = []
    for database in databases:
        rows += bench_database(database, args)
    emit(rows)


if __name__ == "__main__":
    main()
