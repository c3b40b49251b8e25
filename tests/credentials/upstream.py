"""A local stand-in for the LLM providers' OAuth and API endpoints, over real HTTP on 127.0.0.1.

It checks what the real ones check (client id, PKCE verifier against the challenge, single-use
codes, bearer tokens) and counts requests per path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

GOOD_API_KEY = "sk-good-key-0123456789"


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Upstream:
    base_url: str = ""
    requests: Counter = field(default_factory=Counter)
    challenges: dict[str, str] = field(default_factory=dict)  # code -> PKCE challenge
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    device_outcomes: dict[str, str] = field(default_factory=dict)  # device code -> error or ""
    bodies: list[dict] = field(default_factory=list)
    # A provider that repeats what it was sent in its refusals, e.g. `lambda sent: f"bad {sent}"`.
    echo: Callable[[str], str] | None = None
    # Refreshes are answered only while the gate is open: a test clears it to hold them.
    gate: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    def refusal(self, sent: str, message: str) -> str:
        return self.echo(sent) if self.echo else message

    def grant_code(self, challenge: str) -> str:
        """What the provider's page does when the user approves: a code tied to the challenge."""
        code = secrets.token_hex(8)
        self.challenges[code] = challenge
        return code

    def issue(self, **extra: object) -> dict:
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": 3600,
            **extra,
        }

    def settings(self) -> dict[str, str]:
        return {
            "ANTHROPIC_AUTHORIZE_URL": f"{self.base_url}/anthropic/oauth/authorize",
            "ANTHROPIC_TOKEN_URL": f"{self.base_url}/anthropic/v1/oauth/token",
            "ANTHROPIC_BASE_URL": f"{self.base_url}/anthropic",
            "OPENAI_BASE_URL": f"{self.base_url}/openai/v1",
            "COPILOT_GITHUB_URL": f"{self.base_url}/github",
            "GITHUB_ENTERPRISE_SCHEME": "http",
            "CODEX_AUTHORIZE_URL": f"{self.base_url}/codex/oauth/authorize",
            "CODEX_TOKEN_URL": f"{self.base_url}/codex/oauth/token",
        }


def handler_for(upstream: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def reply(self, body: object, status: int = 200) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def body(self) -> dict:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                parsed = json.loads(raw)
            else:
                parsed = {key: values[0] for key, values in parse_qs(raw).items()}
            upstream.bodies.append(parsed)
            return parsed

        def code_exchange(self, body: dict, **extra: object) -> None:
            challenge = upstream.challenges.pop(body.get("code", ""), None)
            if challenge is None or challenge_of(body.get("code_verifier", "")) != challenge:
                refusal = upstream.refusal(body.get("code", ""), "Invalid code")
                self.reply({"error": "invalid_grant", "error_description": refusal}, 400)
                return
            self.reply(upstream.issue(**extra))

        def refresh(self, body: dict) -> None:
            upstream.gate.wait(timeout=60)
            if body.get("refresh_token") not in upstream.refresh_tokens:
                refusal = upstream.refusal(body.get("refresh_token", ""), "Refresh revoked")
                self.reply({"error": "invalid_grant", "error_description": refusal}, 400)
                return
            upstream.refresh_tokens.discard(body["refresh_token"])
            self.reply(upstream.issue())

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            upstream.requests[path] += 1
            body = self.body()
            if path in ("/anthropic/v1/oauth/token", "/codex/oauth/token"):
                if body.get("grant_type") == "refresh_token":
                    self.refresh(body)
                elif path.startswith("/anthropic") and body.get("state") is None:
                    self.reply({"error": "invalid_request"}, 400)
                else:
                    extra = {"id_token": "header.payload.sig"} if path.startswith("/codex") else {}
                    self.code_exchange(body, **extra)
            elif path.endswith("/login/device/code"):
                self.reply(
                    {
                        "device_code": "device-123",
                        "user_code": "WDJB-MJHT",
                        "verification_uri": f"{upstream.base_url}/login/device",
                        "expires_in": 900,
                        "interval": 5,
                    }
                )
            elif path.endswith("/login/oauth/access_token"):
                device_code = body.get("device_code", "")
                outcome = upstream.device_outcomes.get(device_code, "bad_code")
                if outcome:
                    refusal = upstream.refusal(device_code, outcome.replace("_", " "))
                    self.reply({"error": outcome, "error_description": refusal})
                else:
                    token = upstream.issue()
                    del token["refresh_token"], token["expires_in"]
                    self.reply(token)
            else:
                self.reply({"error": "not_found"}, 404)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            upstream.requests[path] += 1
            key = self.headers.get("x-api-key", "")
            bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
            authorized = key == GOOD_API_KEY or bearer in (GOOD_API_KEY, *upstream.access_tokens)
            if path in ("/anthropic/v1/models", "/openai/v1/models"):
                if authorized:
                    self.reply({"data": []})
                else:
                    refusal = upstream.refusal(key or bearer, "invalid x-api-key")
                    self.reply({"error": {"type": "authentication_error", "message": refusal}}, 401)
            else:
                self.reply({"error": "not_found"}, 404)

    return Handler


@contextmanager
def upstream_server() -> Iterator[Upstream]:
    upstream = Upstream()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(upstream))
    upstream.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
