"""How Discobot is served: one place for `make run`, the Procfile, the tests and the benches.

uvicorn, because its WebSocket protocol waits while a client's socket is backed up
(`websocket.send` returns once the transport can take more): a terminal whose browser stalls
stops reading its program's output instead of buffering it in the server without bound.

    python -m discobot.server [--host 127.0.0.1] [--port 3001] [--app discobot.asgi:application]
"""

from __future__ import annotations

import argparse
import os

import uvicorn

# Open event streams and terminals are not waited for longer than this on shutdown (Ctrl-C).
SHUTDOWN_GRACE_SECONDS = 3


def serve(*, host: str, port: int, app: str = "discobot.asgi:application") -> None:
    uvicorn.run(
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


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve Discobot (HTTP and WebSockets).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3001")))
    parser.add_argument("--app", default="discobot.asgi:application")
    arguments = parser.parse_args()
    serve(host=arguments.host, port=arguments.port, app=arguments.app)


if __name__ == "__main__":
    main()
