"""Figures for the terminal: keystroke echo, how many terminals one server process holds, and
how fast a Docker sandbox is ready.

    .venv/bin/python bench/terminal_bench.py [--provider local|docker|both]
                                            [--idle 500] [--active 100] [--keystrokes 400]

Starts one server process (`python -m discobot.server`, SQLite, anonymous mode) and one job
worker, makes a small repository its workspace, and measures:

- **echo**: one keystroke typed into the terminal WebSocket until its echo comes back, against
  the same keystroke typed straight into the sandbox's terminal (the provider's own PTY attached
  to the same tmux session, from this process), alternated in one run. Goal: p99 at most 1 ms
  (local) or 5 ms (docker) above the raw PTY's.
- **terminals held**: `--idle` WebSockets attached to max(`--active`, `--idle / 10`) sessions,
  all idle; then `--active` of them each print 20,000 lines and a marker, which must reach every
  one of them (tmux may redraw a fast screen instead of sending every byte, but the end of the
  output always arrives). Passes when every terminal answered and every marker arrived; the
  server's resident memory, sampled before, while and after, is printed.
- **cold start** (docker only): a session created until it is `ready`, against `docker run` of
  the same image running `true`. Goal: under 2 s.

`--provider both` (the default) runs local, then docker when a Docker engine answers. Load comes
from this process (asyncio WebSocket clients); the server runs in its own. The rows are emitted
through bench/table.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from bench.table import Row, emit  # noqa: E402
from tests.servers import Server, running_server, stop_process  # noqa: E402

READY_DEADLINE = 120.0
ECHO_DEADLINE = 10.0
ACTIVE_LINES = 20_000


# --- The API -----------------------------------------------------------------------------------


def call(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


def make_repository(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "README.md").write_text("bench\n")
    for args in (("init", "-q", "-b", "main"), ("add", "."), ("commit", "-q", "-m", "first")):
        subprocess.run(
            ["git", "-C", str(path), "-c", "user.name=B", "-c", "user.email=b@x", *args],
            check=True,
            capture_output=True,
        )


def workspace_add(server: Server, repo: Path, provider: str) -> str:
    workspace = call(
        server.base_url,
        "/api/projects/local/workspaces",
        {"path": str(repo), "provider": provider},
    )
    ready_wait(server, f"/api/projects/local/workspaces/{workspace['id']}")
    return str(workspace["id"])


def session_create(server: Server, workspace_id: str, session_id: str) -> float:
    """Seconds from the create request until the session is ready."""
    started = time.perf_counter()
    call(
        server.base_url,
        "/api/projects/local/sessions",
        {"id": session_id, "workspaceId": workspace_id},
    )
    ready_wait(server, f"/api/projects/local/sessions/{session_id}", poll=0.02)
    return time.perf_counter() - started


def ready_wait(server: Server, path: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + READY_DEADLINE
    while time.monotonic() < deadline:
        status = call(server.base_url, path)["status"]
        if status == "ready":
            return
        if status == "error":
            raise RuntimeError(f"{path} failed: {call(server.base_url, path)}")
        time.sleep(poll)
    raise TimeoutError(f"{path} not ready in {READY_DEADLINE} s")


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# --- Terminals ---------------------------------------------------------------------------------


class Terminal:
    """One terminal WebSocket, its output kept as text."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.seen = ""
        self.errors: list[str] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.create_task(self.read_forever())

    @classmethod
    async def open(cls, server: Server, session_id: str) -> Terminal:
        url = server.base_url.replace("http", "ws", 1)
        path = f"/api/projects/local/sessions/{session_id}/terminal/ws?rows=40&cols=120"
        connection = await connect(url + path, max_size=None, open_timeout=60)
        return cls(connection)

    async def read_forever(self) -> None:
        async for frame in self.connection:
            message = json.loads(frame)
            if message["type"] == "error":
                self.errors.append(message["data"])
            if message["type"] == "output":
                self.seen += message["data"]
                # Only the tail matters to the waits: keep memory flat over long outputs.
                self.seen = self.seen[-65536:]
                self.changed.set()

    async def type(self, text: str) -> None:
        await self.connection.send(json.dumps({"type": "input", "data": text}))

    async def wait_for(self, text: str, deadline: float = ECHO_DEADLINE) -> None:
        async with asyncio.timeout(deadline):
            while text not in self.seen:
                self.changed.clear()
                await self.changed.wait()

    async def ready(self, deadline: float = ECHO_DEADLINE) -> None:
        """The shell answers (whatever its prompt looks like). Several tabs of one session type into
        one shell at once, and their keystrokes can interleave: asked again until answered."""
        async with asyncio.timeout(deadline):
            while True:
                await self.type("\x15echo ready-$((20+22))\r")
                try:
                    await self.wait_for("ready-42", ECHO_DEADLINE)
                    return
                except TimeoutError:
                    continue

    async def close(self) -> None:
        await self.connection.close()
        self.reader.cancel()


def raw_pty(provider_name: str, data_dir: Path, database_url: str, session_id: str) -> Any:
    """The sandbox's own terminal, attached from this process to the session's tmux session."""
    # One provider per process (see main): Django is set up once, for this server.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "discobot.settings")
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()

    from apps.sandbox.selectors import provider_get
    from apps.workspaces.models import Session

    session = Session.objects.get(id=session_id)
    provider = provider_get(provider_name)
    assert provider is not None
    sandbox = str(session.uuid)
    # The tmux session the WebSocket's shell lives in (the bench's user has just the one).
    listed = provider.exec(
        sandbox, [*provider.tmux_command(sandbox, root=False), "list-sessions", "-F", "#S"]
    )
    name = listed.stdout.decode().split()[0]
    return provider.attach_tmux(sandbox, name, rows=40, cols=120, root=False)


async def raw_echo(pty: Any, marker: str) -> float:
    """Waited on as the consumer waits on its PTY (the event loop's reader), for a fair
    comparison."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    pty.write(marker.encode())
    seen = b""
    async with asyncio.timeout(ECHO_DEADLINE):
        while marker.encode() not in seen:
            readable: asyncio.Future[None] = loop.create_future()
            loop.add_reader(pty.fileno(), future_set, readable)
            try:
                await readable
            finally:
                loop.remove_reader(pty.fileno())
            seen += pty.read(65536, timeout=0)
    return (time.perf_counter() - started) * 1000


def future_set(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def ws_echo(terminal: Terminal, marker: str) -> float:
    started = time.perf_counter()
    await terminal.type(marker)
    await terminal.wait_for(marker)
    return (time.perf_counter() - started) * 1000


async def echo_figures(
    server: Server, provider: str, session_id: str, keystrokes: int
) -> tuple[float, float]:
    """p99 of the WebSocket's echo and of the raw PTY's, alternated keystroke by keystroke."""
    terminal = await Terminal.open(server, session_id)
    await terminal.ready()
    pty = await asyncio.to_thread(
        raw_pty, provider, Path(server.env["DATA_DIR"]), server.env["DATABASE_URL"], session_id
    )
    try:
        ours, baseline = [], []
        letters = "abcdefghijklmnopqrstuvwxyz"
        for index in range(keystrokes):
            # A marker that cannot be in the screen already: a letter after a fresh line.
            marker = letters[index % 26] + letters[(index // 26) % 26]
            if index % 20 == 0:
                await terminal.type("\x15")  # ^U: an empty line again
                await asyncio.sleep(0.05)
            baseline.append(await raw_echo(pty, marker))
            ours.append(await ws_echo(terminal, marker))
        return percentile(ours, 99), percentile(baseline, 99)
    finally:
        pty.close()
        await terminal.close()


async def terminals_held(
    server: Server, session_ids: list[str], idle: int, active: int
) -> dict[str, float]:
    """How many terminals answered and how many of the active ones' markers arrived, with the
    server's memory along the way (MiB)."""
    before = resident_kib(server.pid)
    terminals = []
    per_session = max(1, idle // len(session_ids))
    for session_id in session_ids:
        opened = await asyncio.gather(
            *(Terminal.open(server, session_id) for _ in range(per_session))
        )
        terminals.extend(opened)
    answered = await asyncio.gather(
        *(terminal.ready(deadline=120) for terminal in terminals), return_exceptions=True
    )
    failed = [t for t, result in zip(terminals, answered, strict=True) if result is not None]
    if failed:
        errors = {error for terminal in failed for error in terminal.errors}
        closes = {terminal.connection.close_code for terminal in failed}
        tails = [terminal.seen[-300:] for terminal in failed]
        log = [line for line in server.log.read_text().splitlines() if "uvicorn.access" not in line]
        print("\n".join(log[-60:]), file=sys.stderr)
        print(
            f"{len(failed)} terminals did not answer: {errors or closes}; they show: {tails!r}",
            file=sys.stderr,
        )
    attached = resident_kib(server.pid)
    await asyncio.sleep(10)
    idle_after = resident_kib(server.pid)
    # The active ones: one per session, so that every session prints into its own terminal.
    runners = terminals[::per_session][:active]
    peak = attached
    for index, terminal in enumerate(runners):
        await terminal.type(f"seq 1 {ACTIVE_LINES}; echo DONE-{index}-$((40+2))\r")
    waiting = asyncio.gather(
        *(
            terminal.wait_for(f"DONE-{index}-42", deadline=300)
            for index, terminal in enumerate(runners)
        ),
        return_exceptions=True,
    )
    while not waiting.done():
        peak = max(peak, resident_kib(server.pid))
        await asyncio.sleep(0.2)
    arrived = sum(1 for result in await waiting if result is None)
    await asyncio.sleep(5)
    after = resident_kib(server.pid)
    await asyncio.gather(*(terminal.close() for terminal in terminals))
    return {
        "held": len(terminals) - len(failed),
        "active": len(runners),
        "arrived": arrived,
        "rss_before_mib": before / 1024,
        "rss_attached_mib": attached / 1024,
        "rss_idle_after_10s_mib": idle_after / 1024,
        "rss_peak_mib": peak / 1024,
        "rss_after_mib": after / 1024,
    }


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def docker_run_true() -> float:
    image = os.environ.get("SANDBOX_IMAGE", "discobot-sandbox:latest")
    started = time.perf_counter()
    subprocess.run(["docker", "run", "--rm", image, "true"], check=True, capture_output=True)
    return time.perf_counter() - started


# --- The run -----------------------------------------------------------------------------------


def run_provider(
    provider: str, work: Path, *, idle: int, active: int, keystrokes: int
) -> list[Row]:
    rows: list[Row] = []
    repo = work / "repo"
    if not repo.exists():
        make_repository(repo)
    settings = {"SANDBOX_PROVIDER": provider, "LOG_LEVEL": "WARNING"}
    with running_server(work / provider, **settings) as server:
        worker = server.start_worker(log=work / provider / "worker.log")
        try:
            workspace_id = workspace_add(server, repo, provider)
            cold = [session_create(server, workspace_id, f"{provider}-{n}") for n in range(5)]
            if provider == "docker":
                baseline = statistics.median(docker_run_true() for _ in range(5))
                ours = statistics.median(cold)
                rows.append(
                    Row(
                        "docker cold start, created to ready, median of 5 (s; vs docker run true)",
                        ours,
                        baseline,
                        "< 2 s",
                        ours < 2.0,
                    )
                )
            ours_p99, raw_p99 = asyncio.run(
                echo_figures(server, provider, f"{provider}-0", keystrokes)
            )
            goal = 1.0 if provider == "local" else 5.0
            rows.append(
                Row(
                    f"keystroke echo p99, {provider}, {keystrokes} keys (ms; vs raw PTY)",
                    ours_p99,
                    raw_p99,
                    f"<= +{goal:g} ms",
                    ours_p99 - raw_p99 <= goal,
                )
            )
            # One active terminal per session (its own shell); the idle ones spread over them.
            sessions = max(active, idle // 10, 1)
            session_ids = [f"{provider}-{n}" for n in range(5)]
            for n in range(5, sessions):
                session_create(server, workspace_id, f"{provider}-{n}")
                session_ids.append(f"{provider}-{n}")
            held = asyncio.run(terminals_held(server, session_ids, idle, active))
            print(
                f"terminals, {provider}: {held['held']:.0f} answered, markers of "
                f"{held['arrived']:.0f} of {held['active']:.0f} active arrived; server RSS "
                f"{held['rss_before_mib']:.0f} MiB before, {held['rss_attached_mib']:.0f} "
                f"attached, {held['rss_idle_after_10s_mib']:.0f} idle 10 s later, peak "
                f"{held['rss_peak_mib']:.0f}, {held['rss_after_mib']:.0f} after",
                file=sys.stderr,
            )
            rows.append(
                Row(
                    f"terminals held on one process, {provider}, {active} of them active",
                    held["held"],
                    None,
                    f"{idle} idle + {active} active, every marker arrives",
                    held["held"] >= idle and held["arrived"] >= active,
                )
            )
        finally:
            stop_process(worker)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--provider", choices=("local", "docker", "both"), default="both")
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--active", type=int, default=100)
    parser.add_argument("--keystrokes", type=int, default=400)
    parser.add_argument("--json", action="store_true", help="Print the rows as JSON.")
    arguments = parser.parse_args()
    if arguments.provider == "both":
        # Each provider in its own process: the raw PTY side sets Django up for one server.
        providers = ["local"]
        if docker_answers():
            providers.append("docker")
        else:
            print("no Docker engine answers: the docker provider's rows are skipped")
        rows: list[Row] = []
        for provider in providers:
            command = [sys.executable, __file__, "--provider", provider, "--json"]
            command += ["--idle", str(arguments.idle), "--active", str(arguments.active)]
            command += ["--keystrokes", str(arguments.keystrokes)]
            output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
            rows += [Row(**row) for row in json.loads(output)]
        emit(rows)
        return
    # A short directory: tmux sockets live under DATA_DIR, and a socket path is short.
    with tempfile.TemporaryDirectory(prefix="tb", dir="/tmp") as directory:
        print(f"working in {directory}", file=sys.stderr)
        rows = run_provider(
            arguments.provider,
            Path(directory),
            idle=arguments.idle,
            active=arguments.active,
            keystrokes=arguments.keystrokes,
        )
    if arguments.json:
        print(json.dumps([asdict(row) for row in rows]))
    else:
        emit(rows)


if __name__ == "__main__":
    main()
