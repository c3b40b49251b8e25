from __future__ import annotations

import re

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from apps.accounts.callers import SignIn, caller_resolve
from apps.accounts.models import ApiToken, User


def preview_origin(request: Request) -> bool:
    """Whether the request comes from a page of a service preview: the wildcard trusted
    origins (CSRF_TRUSTED_ORIGINS) would otherwise trust it with the session cookie."""
    origin = request.headers.get("Origin", "")
    return bool(re.match(rf"^https?://{settings.PREVIEW_LABEL}\.", origin))


class CallerAuthentication(SessionAuthentication):
    """DRF's view of `caller_resolve`: anonymous mode, a bearer token or the session cookie.

    A session-authenticated request must carry its CSRF token, as with DRF's own
    SessionAuthentication (whose check this reuses); a token or anonymous mode needs none.
    """

    def authenticate(self, request: Request) -> tuple[User, ApiToken | None] | None:
        caller = caller_resolve(request=request._request)
        if caller.retry_after is not None:
            raise exceptions.Throttled(wait=caller.retry_after, detail=caller.refusal)
        if caller.refusal:
            raise exceptions.AuthenticationFailed(caller.refusal)
        if caller.user is None:
            return None
        if caller.signed_in_with == SignIn.SESSION:
            if preview_origin(request):
                raise exceptions.PermissionDenied("CSRF Failed: a service preview is not trusted")
            self.enforce_csrf(request)
        return caller.user, caller.token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 rather than 403 to a request without credentials.
        return 'Bearer realm="discobot"'
