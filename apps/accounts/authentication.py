from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from apps.accounts.models import ApiToken, User
from apps.accounts.ratelimits import auth_failure_count, auth_failure_retry_after
from apps.accounts.selectors import anonymous_user, api_token_authenticate


class AnonymousModeAuthentication(BaseAuthentication):
    """With AUTH_ENABLED=false every API request runs as the anonymous user (contract §1)."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        if settings.AUTH_ENABLED:
            return None
        return anonymous_user(), None

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 rather than 403 to a request without credentials.
        return 'Bearer realm="discobot"'


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <personal API token>`; failures count towards the rate limit."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        retry_after = auth_failure_retry_after(request._request)
        if retry_after is not None:
            raise exceptions.Throttled(wait=retry_after, detail="Too many failed attempts")
        if len(parts) != 2:
            auth_failure_count(request._request)
            raise exceptions.AuthenticationFailed("Invalid token")
        token, error = api_token_authenticate(raw_token=parts[1].decode(errors="replace"))
        if token is None:
            auth_failure_count(request._request)
            raise exceptions.AuthenticationFailed(error)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="discobot"'
