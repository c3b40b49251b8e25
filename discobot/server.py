"""How Discobot is served: one place for `make run`, the Procfile, compose, tests and benches.

uvicorn, because its WebSocket protocol waits while a client's socket is backed up
(`websocket.send` returns once the transport can take more): a terminal whose browser stalls
stops reading its program's output instead of buffering it in the server without bound.
Ordinary requests run on each process's threads, event streams on its loop
(discobot/serving.py); one process uses one core, so there is a process per core by default.

    python -m discobot.server [--host 127.0.0.1] [--port 3001] [--workers N]
                              [--app discobot.asgi:application]
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import sys
import time

import uvicorn

logger = logging.getLogger("discobot.server")

# Open event streams and terminals are not waited for longer than this on shutdown (Ctrl-C).
SHUTDOWN_GRACE_SECONDS = 3
# The collector's thresholds: CPython's defaults, but a full collection is considered after 100
# collections of the middle generation instead of 10. With 1,000 event streams open, objects
# that live from one event to the next were promoted, and every few events a full collection
# walked the ~250,000 objects the streams hold: 170-240 ms in which nothing was sent. A larger
# youngest generation avoided that too, but its longer pauses showed in the REST p99
# (docs/decisions.md, "Events").
GC_THRESHOLDS = (700, 10, 100)


def default_workers() -> int:
    """WEB_CONCURRENCY (the usual name on hosting platforms), else one per core."""
    configured = os.environ.get("WEB_CONCURRENCY", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return len(os.sched_getaffinity(0))


def port_taken(host: str, port: int) -> bool:
    """Whether another program already listens on `host:port`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def port_taken_message(host: str, port: int) -> str:
    return (
        f"Port {port} on {host} is already in use (another Discobot, or another program). "
        f"Stop it, or choose another port: make run PORT={port + 1} (or --port {port + 1})."
    )


def config(*, host: str, port: int, app: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # The sans-I/O implementation of `websockets`: backpressure on every send.
        ws="websockets-sansio",
        # Channels' router has no lifespan handler.
        lifespan="off",
        # The client address is the peer's until the operator names trusted proxies.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        # Django's LOGGING (set up when the application is imported) formats and redacts.
        log_config=None,
    )


def loaded(configured: uvicorn.Config) -> uvicorn.Config:
    """The application imported with its URLs and views, then hidden from the garbage
    collector: a full collection walked those 185,000 long-lived objects every time, 100 ms
    in which the process answered nothing (seen as the p99 of every REST figure). Young
    objects are collected as GC_THRESHOLDS says."""
    configured.load()
    from django.conf import settings
    from django.urls import get_resolver

    configured.ws_ping_interval = configured.ws_ping_timeout = settings.WEBSOCKET_PING_SECONDS

    get_resolver().url_patterns  # noqa: B018 (imports every view module)
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return configured


def serve(
    *, host: str, port: int, workers: int = 1, app: str = "discobot.asgi:application"
) -> None:
    if workers == 1:
        uvicorn.Server(loaded(config(host=host, port=port, app=app))).run()
        return
    processes = ServerProcesses(workers, host=host, port=port, app=app)
    processes.run()


def serve_own_socket(host: str, port: int, app: str) -> None:
    """One server process with its own listening socket in the port's SO_REUSEPORT group.

    Not uvicorn's `--workers`, whose processes share one socket: a process that wakes first
    accepts every waiting connection (seen: 15 of 16 keep-alive connections on one of two
    processes, the other idle). With a socket each, the kernel spreads connections evenly."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(2048)
    uvicorn.Server(loaded(config(host=host, port=port, app=app))).run(sockets=[listener])


class ServerProcesses:
    """`workers` server processes on one port: restarted if one dies, all stopped (SIGINT or
    SIGTERM, forwarded) within their grace period."""

    def __init__(self, workers: int, *, host: str, port: int, app: str) -> None:
        self.workers = workers
        self.arguments = (host, port, app)
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.stopping = False

    def start_one(self) -> multiprocessing.process.BaseProcess:
        process = self.context.Process(target=serve_own_socket, args=self.arguments)
        process.start()
        return process

    def stop(self, _signum: int, _frame: object) -> None:
        # SIGTERM, also for a Ctrl-C: the terminal sent the processes SIGINT already, and a
        # second SIGINT would make uvicorn skip its graceful shutdown.
        self.stopping = True
        for process in self.processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    def run(self) -> None:
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)
        self.processes = [self.start_one() for _ in range(self.workers)]
        while not self.stopping:
            for index, process in enumerate(self.processes):
                if not process.is_alive() and not self.stopping:
                    logger.error(
                        "Server process %s exited (%s); starting another",
                        process.pid,
                        process.exitcode,
                    )
                    self.processes[index] = self.start_one()
            time.sleep(0.5)
        deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS + 5
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve Discobot (HTTP and WebSockets).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3001")))
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="server processes (default: WEB_CONCURRENCY, else one per core)",
    )
    parser.add_argument("--app", default="discobot.asgi:application")
    arguments = parser.parse_args()
    if port_taken(arguments.host, arguments.port):
        sys.exit(port_taken_message(arguments.host, arguments.port))
    serve(host=arguments.host, port=arguments.port, workers=arguments.workers, app=arguments.app)


if __name__ == "__main__":
    main()
