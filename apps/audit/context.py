"""Who is acting and from where: the request being served, for the entries its writes record.

One place for it, so that services need not be handed the request: the middleware sets it for
every HTTP request; work outside one (a job, a management command) has none.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.accounts.models import ANONYMOUS_USER_ID, User
from discobot.clients import client_address

current_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)

LOCAL_ACTOR = "local"
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Actor:
    user: User | None
    label: str
    address: str | None


def actor_of(user: User | None, *, address: str | None = None) -> Actor:
    """`user` as an entry names them: the anonymous user of local mode is "local"."""
    if user is None:
        return Actor(user=None, label=SYSTEM_ACTOR, address=address)
    if user.id == ANONYMOUS_USER_ID:
        return Actor(user=None, label=LOCAL_ACTOR, address=address)
    return Actor(user=user, label=user.email, address=address)


def current_actor() -> Actor:
    """The caller of the current request, or the system outside one.

    Read when the entry is written, not when the request arrives: DRF authenticates inside the
    view (a bearer token, anonymous mode) and only then sets the request's `user`.
    """
    request = current_request.get()
    if request is None:
        return actor_of(None)
    address = client_address(request)
    if not settings.AUTH_ENABLED:
        return Actor(user=None, label=LOCAL_ACTOR, address=address)
    user = getattr(request, "user", None)
    return actor_of(user if isinstance(user, User) else None, address=address)


class AuditRequestMiddleware:
    """Makes the request the current one while it is served (`current_actor`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)
