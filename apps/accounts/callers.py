"""Who is calling: one answer for a DRF request and a WebSocket handshake alike.

Both are HTTP requests with headers and cookies, so both are resolved here from a Django
`HttpRequest` (a WebSocket handshake is read into one by `apps.accounts.websockets`). Rate
limits on failed tokens key on the request's client address, so one counter covers both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest

from apps.accounts.models import ApiToken, User
from apps.accounts.ratelimits import auth_failure_count, auth_failure_retry_after
from apps.accounts.selectors import anonymous_user, api_token_authenticate
from apps.accounts.sessions import SessionStore

BEARER = "bearer"


class SignIn(enum.StrEnum):
    """How a caller proved who they are."""

    ANONYMOUS_MODE = "anonymous-mode"
    TOKEN = "token"  # noqa: S105 (a kind of credentials, not a secret)
    SESSION = "session"
    NONE = "none"


@dataclass(frozen=True)
class Caller:
    """The resolved caller: a user and how they proved it, or why nobody is signed in.

    `refusal` is set when credentials were presented and refused (a bad or expired token);
    `retry_after` when the address is refused for having guessed too often.
    """

    user: User | None
    signed_in_with: SignIn
    token: ApiToken | None = None
    refusal: str = ""
    retry_after: int | None = None


NOBODY = Caller(user=None, signed_in_with=SignIn.NONE)


def caller_resolve(*, request: HttpRequest) -> Caller:
    """Anonymous mode, else `Authorization: Bearer <token>`, else the session cookie.

    A bearer token is counted against the address when it fails, and refused outright once
    the address has failed AUTH_FAILURE_RATE times; a session cookie is not (a browser cannot
    guess one faster than it can guess a token).
    """
    if not settings.AUTH_ENABLED:
        return Caller(user=anonymous_user(), signed_in_with=SignIn.ANONYMOUS_MODE)
    parts = request.headers.get("Authorization", "").split()
    if parts and parts[0].lower() == BEARER:
        return token_caller(request=request, parts=parts)
    user = session_user(request=request)
    if user is None:
        return NOBODY
    return Caller(user=user, signed_in_with=SignIn.SESSION)


def caller_tokens(*, request: HttpRequest) -> list[str]:
    """The secrets a request signs in with (its bearer token, its session cookie): what the
    caller sends must never come back to them or anyone in an agent's output."""
    tokens = []
    parts = request.headers.get("Authorization", "").split()
    if len(parts) == 2 and parts[0].lower() == BEARER:
        tokens.append(parts[1])
    cookie = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if cookie:
        tokens.append(cookie)
    return tokens


def token_caller(*, request: HttpRequest, parts: list[str]) -> Caller:
    retry_after = auth_failure_retry_after(request)
    if retry_after is not None:
        return Caller(
            user=None,
            signed_in_with=SignIn.TOKEN,
            refusal="Too many failed attempts",
            retry_after=retry_after,
        )
    token, refusal = (
        api_token_authenticate(raw_token=parts[1]) if len(parts) == 2 else (None, "Invalid token")
    )
    if token is None:
        auth_failure_count(request)
        return Caller(user=None, signed_in_with=SignIn.TOKEN, refusal=refusal)
    return Caller(user=token.user, signed_in_with=SignIn.TOKEN, token=token)


def session_user(*, request: HttpRequest) -> User | None:
    """The user of the request's login session, checked as Django's AuthenticationMiddleware
    checks it (the backend still knows the user; the password has not changed since)."""
    if not hasattr(request, "session"):  # a WebSocket handshake has no session middleware
        request.session = SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    user = auth.get_user(request)
    return user if isinstance(user, User) else None
