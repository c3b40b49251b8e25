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
import os
import socket
import sys

import uvicorn

# Open event streams and terminals are not waited for longer than this on shutdown (Ctrl-C).
SHUTDOWN_GRACE_SECONDS = 3


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


def serve(
    *, host: str, port: int, workers: int = 1, app: str = "discobot.asgi:application"
) -> None:
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=workers,
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
