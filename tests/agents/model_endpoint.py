"""An OpenAI- and Anthropic-compatible `/models` endpoint on 127.0.0.1, over real HTTP: it
answers only with the auth header each API takes, counts its calls, and can be held to stand
for an endpoint too slow to wait for."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "sk-endpoint-key"
OPENAI_MODELS: dict[str, object] = {
    "object": "list",
    "data": [
        {"id": "llama3.2", "object": "model", "created": 1_700_000_000, "owned_by": "library"},
        {"id": "o3", "object": "model", "created": 1_744_000_000, "owned_by": "openai"},
    ],
}
ANTHROPIC_MODELS: dict[str, object] = {
    "data": [
        {
            "id": "claude-sonnet-4-5",
            "display_name": "Claude Sonnet 4.5",
            "created_at": "2025-09-29T00:00:00Z",
            "type": "model",
        }
    ],
    "has_more": False,
}


@dataclass
class ModelEndpoint:
    url: str = ""
    calls: Counter = field(default_factory=Counter)
    # While clear, answers wait (at most a minute): an endpoint too slow to wait for.
    open: threading.Event = field(default_factory=threading.Event)


@contextmanager
def model_endpoint() -> Iterator[ModelEndpoint]:
    endpoint = ModelEndpoint()
    endpoint.open.set()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            endpoint.calls[self.path] += 1
            endpoint.open.wait(timeout=60)
            body: dict[str, object]
            if self.path == "/openai/v1/models":
                authorized = self.headers.get("Authorization") == f"Bearer {KEY}"
                body = OPENAI_MODELS
            elif self.path == "/anthropic/v1/models":
                authorized = (
                    self.headers.get("x-api-key") == KEY
                    and self.headers.get("anthropic-version") is not None
                )
                body = ANTHROPIC_MODELS
            else:
                authorized, body = True, {"error": "not found"}
            status = 200 if authorized and "error" not in body else 401 if not authorized else 404
            payload = json.dumps(body if authorized else {"error": "unauthorized"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield endpoint
    finally:
        endpoint.open.set()
        server.shutdown()
        server.server_close()
