"""A provider that says yes, for the fuzzed server: every OAuth code, refresh token, device code
and key is good, on any host.

Its own address stands in for every provider's URL, and it is also the server's HTTP proxy, so
that the GitHub Enterprise hosts a fuzzer invents reach it too. With it, schema-valid requests
to the credential flows succeed, and their answers are checked against the schema; refusals
from a real provider have tests of their own (tests/credentials).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class AgreeingProvider(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def reply(self, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # Through the proxy the request line holds the whole URL; the path is what matters.
        path = urlsplit(self.path).path
        if path.endswith("/login/device/code"):
            self.reply(
                {
                    "device_code": secrets.token_hex(8),
                    "user_code": "WDJB-MJHT",
                    "verification_uri": "http://127.0.0.1/login/device",
                    "expires_in": 900,
                    "interval": 5,
                }
            )
        elif path.endswith("/login/oauth/access_token"):
            self.reply({"access_token": secrets.token_hex(16), "token_type": "bearer"})
        else:  # the OAuth token endpoints: a code exchange or a refresh
            self.reply(
                {
                    "access_token": secrets.token_hex(16),
                    "refresh_token": secrets.token_hex(16),
                    "token_type": "bearer",
                    "expires_in": 3600,
                    "id_token": "header.payload.signature",
                }
            )

    def do_GET(self) -> None:  # the model lists of credential tests
        self.reply({"data": []})


@contextmanager
def agreeing_provider() -> Iterator[str]:
    """Serves on 127.0.0.1; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), AgreeingProvider)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def provider_settings(base_url: str) -> dict[str, str]:
    """The server's settings that send every provider request to `base_url`."""
    return {
        "ANTHROPIC_TOKEN_URL": f"{base_url}/anthropic/v1/oauth/token",
        "ANTHROPIC_BASE_URL": f"{base_url}/anthropic",
        "OPENAI_BASE_URL": f"{base_url}/openai/v1",
        "CODEX_TOKEN_URL": f"{base_url}/codex/oauth/token",
        "COPILOT_GITHUB_URL": f"{base_url}/github",
        "GITHUB_ENTERPRISE_SCHEME": "http",
        "HTTP_PROXY": base_url,
        "http_proxy": base_url,
        "NO_PROXY": "",
        "no_proxy": "",
    }
