from __future__ import annotations

from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.accounts.models import User
from apps.accounts.selectors import anonymous_user


class AnonymousModeAuthentication(BaseAuthentication):
    """With AUTH_ENABLED=false every API request runs as the anonymous user (contract §1)."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        if settings.AUTH_ENABLED:
            return None
        return anonymous_user(), None

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 rather than 403 to a request without credentials.
        return 'Bearer realm="discobot"'
