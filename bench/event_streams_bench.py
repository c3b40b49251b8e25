"""Figures for the event streams: how many one server process holds, and what they cost.

    .venv/bin/python bench/event_streams_bench.py [--streams 1000] [--redis redis://...]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/discobot .venv/bin/python bench/...

Starts one server process with the default settings (on PostgreSQL: the pool's default size),
opens N event streams over real HTTP, and prints the time to open them, the database
connections, threads and memory of the process while they are open, the latency of ordinary
requests meanwhile, and how long one event takes to reach every stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Server, running_server  # noqa: E402

EVENTS = "/api/projects/local/events"
OPEN_AT_ONCE = 50


async def open_stream(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {EVENTS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream refused: {status!r}")
    await reader.readuntil(b"event: connected")
    return reader, writer


async def first_event_of(reader: asyncio.StreamReader, event_type: bytes) -> float:
    await reader.readuntil(b"event: " + event_type)
    return time.perf_counter()


def request_seconds(server: Server, path: str, body: dict[str, Any] | None = None) -> float:
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return time.perf_counter() - started


def database_connections(server: Server) -> int:
    url = server.env["DATABASE_URL"]
    if url.startswith("sqlite"):
        database_file = url.removeprefix("sqlite:///")
        fds = Path(f"/proc/{server.pid}/fd").iterdir()
        return sum(1 for fd in fds if os.path.realpath(fd) == database_file)
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()
    return row[0] if row else 0


def process_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {name: value.strip() for name, _, value in (line.partition(":") for line in lines)}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(server: Server, streams: int, folder: Path) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    started = time.perf_counter()
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for first in range(0, streams, OPEN_AT_ONCE):
        batch = range(first, min(streams, first + OPEN_AT_ONCE))
        opened += await asyncio.gather(*(open_stream(port) for _ in batch))
    print(f"streams open:              {len(opened)} in {time.perf_counter() - started:.1f} s")

    await asyncio.sleep(3)  # every stream has polled the table a few times
    status = process_status(server.pid)
    print(f"database connections:      {database_connections(server)}")
    print(f"server threads:            {status['Threads']}")
    print(f"server memory (RSS):       {status['VmRSS']}")

    latencies = [
        await asyncio.to_thread(request_seconds, server, "/api/projects") for _ in range(20)
    ]
    print(
        f"GET /api/projects:         median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )

    waiting = [
        asyncio.create_task(first_event_of(reader, b"workspace_updated")) for reader, _ in opened
    ]
    sent = time.perf_counter()
    await asyncio.to_thread(
        request_seconds, server, "/api/projects/local/workspaces", {"path": str(folder)}
    )
    arrived = [moment - sent for moment in await asyncio.gather(*waiting)]
    print(
        f"one event to every stream: p50 {percentile(arrived, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(arrived, 0.95) * 1000:.0f} ms, max {max(arrived) * 1000:.0f} ms"
    )
    for _, writer in opened:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--redis", default="", help="REDIS_URL for the server")
    args = parser.parse_args()
    settings = {"EVENTS_MAX_STREAMS_PER_USER": "0"}  # one anonymous user holds them all
    if args.redis:
        settings["REDIS_URL"] = args.redis
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp), **settings) as server:
        database = server.env["DATABASE_URL"].split(":", 1)[0]
        print(f"database: {database}, redis: {args.redis or 'none'}, streams: {args.streams}")
        folder = Path(tmp) / "workspace"
        folder.mkdir()
        asyncio.run(measure(server, args.streams, folder))


if __name__ == "__main__":
    main()
