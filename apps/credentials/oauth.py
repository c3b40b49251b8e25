"""The three OAuth flows of the contract (§2 Credentials), spoken to the upstream providers.

Every upstream URL comes from settings, so tests point them at a local server.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings
from django.utils import timezone

from discobot.api.fields import HOST, PORT, whole
from discobot.errors import ApplicationError

ANTHROPIC_SCOPE = "org:create_api_key user:profile user:inference"
CODEX_SCOPE = "openid profile email offline_access"
COPILOT_SCOPE = "read:user"
# A GitHub Enterprise host: a DNS name with an optional port (anything else makes the HTTP
# client fail before it sends a request), given alone or as an http(s) address. The patterns
# are published as the schema's rules of `domain` and `enterpriseUrl`.
DOMAIN_PATTERN = f"^{HOST}(?::{PORT})?$"
ENTERPRISE_URL_PATTERN = f"^(?:[Hh][Tt][Tt][Pp][Ss]?://)?({HOST}(?::{PORT})?)(?:[/?#][!-~]*)?$"
DOMAIN = re.compile(whole(DOMAIN_PATTERN))
ENTERPRISE_URL = re.compile(whole(ENTERPRISE_URL_PATTERN))


class UpstreamError(Exception):
    """The provider refused or failed, in its own words: services mask the project's secrets
    (`services.upstream_text`) before anyone sees them."""


@dataclass
class Tokens:
    access_token: str
    refresh_token: str = ""
    token_type: str = ""
    expires_in: int | None = None
    scope: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def expires_at(self) -> datetime | None:
        if not self.expires_in:
            return None
        return timezone.now() + timedelta(seconds=self.expires_in)

    def secret(self) -> dict[str, Any]:
        expires_at = self.expires_at
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "scope": self.scope,
            **self.extra,
        }


def tokens_from(body: dict[str, Any]) -> Tokens:
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise UpstreamError(upstream_message(body) or "The provider sent no access token")
    expires_in = body.get("expires_in")
    return Tokens(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") or "",
        token_type=body.get("token_type") or "",
        expires_in=int(expires_in) if expires_in else None,
        scope=body.get("scope") or "",
    )


def upstream_message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    error = body.get("error_description") or body.get("error") or body.get("message") or ""
    if isinstance(error, dict):
        error = error.get("message") or error.get("type") or ""
    return str(error)


def post(
    url: str, *, json: dict[str, Any] | None = None, data: dict[str, Any] | None = None
) -> tuple[int, Any]:
    try:
        response = requests.post(
            url,
            json=json,
            data=data,
            headers={"Accept": "application/json"},
            timeout=settings.UPSTREAM_TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise UpstreamError(
            f"Could not reach {urlsplit(url).netloc}: {type(error).__name__}"
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body


def token_request(url: str, **payload: Any) -> Tokens:
    status, body = post(url, **payload)
    if status >= 400:
        raise UpstreamError(upstream_message(body) or f"HTTP {status}")
    return tokens_from(body)


# --- PKCE (Anthropic, Codex) -------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def authorize_answer(
    url: str, params: dict[str, str], state: str, verifier: str, challenge: str
) -> dict[str, str]:
    return {
        "url": f"{url}?{urlencode(params)}",
        "state": state,
        "verifier": verifier,
        "codeChallenge": challenge,
        "codeChallengeMethod": "S256",
    }


def anthropic_authorize() -> dict[str, str]:
    """Contract: the verifier itself is the state, and the user pastes back `code#state`."""
    verifier, challenge = pkce_pair()
    params = {
        "code": "true",
        "response_type": "code",
        "client_id": settings.ANTHROPIC_CLIENT_ID,
        "redirect_uri": settings.ANTHROPIC_REDIRECT_URI,
        "scope": ANTHROPIC_SCOPE,
        "state": verifier,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return authorize_answer(settings.ANTHROPIC_AUTHORIZE_URL, params, verifier, verifier, challenge)


def anthropic_exchange(*, code: str, verifier: str) -> Tokens:
    code, _, state = code.strip().partition("#")
    return token_request(
        settings.ANTHROPIC_TOKEN_URL,
        json={
            "code": code,
            "state": state or verifier,
            "grant_type": "authorization_code",
            "client_id": settings.ANTHROPIC_CLIENT_ID,
            "redirect_uri": settings.ANTHROPIC_REDIRECT_URI,
            "code_verifier": verifier,
        },
    )


def codex_authorize(*, redirect_uri: str) -> dict[str, str]:
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(32)
    params = {
        "response_type": "code",
        "client_id": settings.CODEX_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": CODEX_SCOPE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
    }
    return authorize_answer(settings.CODEX_AUTHORIZE_URL, params, state, verifier, challenge)


def codex_exchange(*, code: str, verifier: str, redirect_uri: str) -> Tokens:
    # A pasted code often carries the line break it was copied with.
    return token_request(
        settings.CODEX_TOKEN_URL,
        data={
            "grant_type": "authorization_code",
            "code": code.strip(),
            "redirect_uri": redirect_uri,
            "client_id": settings.CODEX_CLIENT_ID,
            "code_verifier": verifier.strip(),
        },
    )


def refresh(*, provider: str, refresh_token: str) -> Tokens:
    if provider == "anthropic":
        return token_request(
            settings.ANTHROPIC_TOKEN_URL,
            json={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": settings.ANTHROPIC_CLIENT_ID,
            },
        )
    if provider == "codex":
        return token_request(
            settings.CODEX_TOKEN_URL,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": settings.CODEX_CLIENT_ID,
            },
        )
    raise ApplicationError(f"{provider} credentials cannot be refreshed")


# --- GitHub Copilot device flow ------------------------------------------------------------------


class DevicePoll(Enum):
    """The poll outcomes, with the contract's status codes (§2: 202, 429, 410, 403)."""

    PENDING = 202
    SLOW_DOWN = 429
    EXPIRED = 410
    DENIED = 403


class DevicePollError(Exception):
    def __init__(self, outcome: DevicePoll, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def domain_valid(domain: str) -> bool:
    return DOMAIN.search(domain) is not None


def copilot_domain(*, deployment_type: str, enterprise_url: str) -> str:
    if deployment_type != "enterprise":
        return "github.com"
    match = ENTERPRISE_URL.search(enterprise_url)
    if match is None:
        raise ApplicationError("enterpriseUrl must be a GitHub Enterprise host name or URL")
    return match[1]


def copilot_base_url(domain: str) -> str:
    if domain == "github.com":
        return settings.COPILOT_GITHUB_URL
    if not domain_valid(domain):
        raise ApplicationError("domain must be github.com or a GitHub Enterprise host")
    return f"{settings.GITHUB_ENTERPRISE_SCHEME}://{domain}"


def copilot_device_code(*, domain: str) -> dict[str, Any]:
    status, body = post(
        f"{copilot_base_url(domain)}/login/device/code",
        data={"client_id": settings.GITHUB_COPILOT_CLIENT_ID, "scope": COPILOT_SCOPE},
    )
    if status >= 400 or "device_code" not in body:
        raise UpstreamError(upstream_message(body) or f"HTTP {status}")
    return {
        "deviceCode": body["device_code"],
        "userCode": body["user_code"],
        "verificationUri": body["verification_uri"],
        "expiresIn": body["expires_in"],
        "interval": body.get("interval", 5),
        "domain": domain,
    }


def copilot_poll(*, device_code: str, domain: str) -> Tokens:
    status, body = post(
        f"{copilot_base_url(domain)}/login/oauth/access_token",
        data={
            "client_id": settings.GITHUB_COPILOT_CLIENT_ID,
            "device_code": device_code,
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        },
    )
    error = body.get("error") if isinstance(body, dict) else None
    outcomes = {
        "authorization_pending": DevicePoll.PENDING,
        "slow_down": DevicePoll.SLOW_DOWN,
        "expired_token": DevicePoll.EXPIRED,
        "access_denied": DevicePoll.DENIED,
    }
    if error in outcomes:
        raise DevicePollError(outcomes[error], error)
    if error or status >= 400:
        raise UpstreamError(upstream_message(body) or f"HTTP {status}")
    tokens = tokens_from(body)
    tokens.extra["domain"] = domain
    return tokens
