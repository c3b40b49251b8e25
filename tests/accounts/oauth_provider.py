"""A local stand-in for GitHub's and Google's OAuth 2.0 endpoints, served over real HTTP.

The authorize endpoint plays the user who approves (or, when told to, denies) the request and
redirects back with a code; codes are single-use, as at the real providers.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings

CLIENT_ID = "discobot-test-client"
CLIENT_SECRET = "discobot-test-secret"


@dataclass
class Profile:
    uid: str
    email: str
    name: str
    avatar_url: str


@dataclass
class OAuthProvider:
    base_url: str = ""
    github_profile: Profile = field(
        default_factory=lambda: Profile(
            "4242", "octo@example.com", "Octo Cat", "https://avatars.example/octo.png"
        )
    )
    google_profile: Profile = field(
        default_factory=lambda: Profile(
            "1077", "gina@example.com", "Gina Google", "https://lh3.example/gina.png"
        )
    )
    deny: bool = False
    requests: Counter = field(default_factory=Counter)
    codes: dict[str, str] = field(default_factory=dict)  # code -> provider
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> provider

    def issue_code(self, provider: str) -> str:
        code = secrets.token_hex(8)
        self.codes[code] = provider
        return code


def handler_for(provider: OAuthProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def send_json(self, body: object, status: int = 200) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def authorize(self, which: str) -> None:
            query = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
            assert query["client_id"] == CLIENT_ID
            back = {"state": query["state"]}
            if provider.deny:
                back["error"] = "access_denied"
            else:
                back["code"] = provider.issue_code(which)
            self.send_response(302)
            self.send_header("Location", f"{query['redirect_uri']}?{urlencode(back)}")
            self.end_headers()

        def exchange(self, which: str) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if form.get("client_secret") != CLIENT_SECRET:
                self.send_json({"error": "invalid_client"}, 401)
                return
            if provider.codes.pop(form.get("code", ""), None) != which:
                # GitHub answers a bad or reused code with 200 and an error body.
                self.send_json(
                    {"error": "bad_verification_code"}, 200 if which == "github" else 400
                )
                return
            token = secrets.token_hex(16)
            provider.tokens[token] = which
            self.send_json({"access_token": token, "token_type": "bearer", "expires_in": 3600})

        def bearer_of(self, which: str) -> bool:
            _, _, token = self.headers.get("Authorization", "").partition(" ")
            return provider.tokens.get(token) == which

        def do_GET(self) -> None:
            route = urlsplit(self.path).path
            provider.requests[route] += 1
            github, google = provider.github_profile, provider.google_profile
            if route == "/github/login/oauth/authorize":
                self.authorize("github")
            elif route == "/google/authorize":
                self.authorize("google")
            elif route == "/github-api/user" and self.bearer_of("github"):
                self.send_json(
                    {
                        "id": int(github.uid),
                        "login": "octocat",
                        "name": github.name,
                        "email": None,  # a private address: found through /user/emails
                        "avatar_url": github.avatar_url,
                    }
                )
            elif route == "/github-api/user/emails" and self.bearer_of("github"):
                self.send_json([{"email": github.email, "primary": True, "verified": True}])
            elif route == "/google/userinfo" and self.bearer_of("google"):
                self.send_json(
                    {
                        "id": google.uid,
                        "email": google.email,
                        "verified_email": True,
                        "name": google.name,
                        "picture": google.avatar_url,
                    }
                )
            else:
                self.send_json({"message": "Not Found"}, 404)

        def do_POST(self) -> None:
            route = urlsplit(self.path).path
            provider.requests[route] += 1
            if route == "/github/login/oauth/access_token":
                self.exchange("github")
            elif route == "/google/token":
                self.exchange("google")
            else:
                self.send_json({"message": "Not Found"}, 404)

    return Handler


@contextmanager
def oauth_provider() -> Iterator[OAuthProvider]:
    provider = OAuthProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(provider))
    provider.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()


def provider_settings(base_url: str) -> dict[str, object]:
    """Django settings that point both login providers at the local server."""
    app = {"client_id": CLIENT_ID, "secret": CLIENT_SECRET, "key": ""}
    return {
        "SOCIALACCOUNT_PROVIDERS": {
            name: {**config, "APPS": [app]}
            for name, config in settings.SOCIALACCOUNT_PROVIDERS.items()
        },
        "GITHUB_URL": f"{base_url}/github",
        "GITHUB_API_URL": f"{base_url}/github-api",
        "GOOGLE_AUTHORIZE_URL": f"{base_url}/google/authorize",
        "GOOGLE_TOKEN_URL": f"{base_url}/google/token",
        "GOOGLE_USERINFO_URL": f"{base_url}/google/userinfo",
    }


def provider_environment(base_url: str) -> dict[str, str]:
    """The same, as the environment of a server process."""
    return {
        "GITHUB_CLIENT_ID": CLIENT_ID,
        "GITHUB_CLIENT_SECRET": CLIENT_SECRET,
        "GOOGLE_CLIENT_ID": CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
        "GITHUB_URL": f"{base_url}/github",
        "GITHUB_API_URL": f"{base_url}/github-api",
        "GOOGLE_AUTHORIZE_URL": f"{base_url}/google/authorize",
        "GOOGLE_TOKEN_URL": f"{base_url}/google/token",
        "GOOGLE_USERINFO_URL": f"{base_url}/google/userinfo",
    }
