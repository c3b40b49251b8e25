from __future__ import annotations

import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import ApiToken, User
from apps.accounts.selectors import api_token_hash
from apps.accounts.signals import api_token_created, api_token_revoked
from discobot.errors import ApplicationError, NotFoundError

API_TOKEN_PREFIX = "dbt_"  # noqa: S105 (a marker for secret scanners, not a secret)


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Creates a token; the plain value is returned once and never stored."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("expiresAt must be in the future")
    raw_token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=api_token_hash(raw_token),
        prefix=raw_token[:12],
        expires_at=expires_at,
    )
    api_token_created.send(sender=ApiToken, token=token)
    return token, raw_token


@transaction.atomic
def api_token_revoke(*, user: User, token_id: str) -> None:
    token = ApiToken.objects.select_related("user").filter(user=user, id=token_id).first()
    if token is None:
        raise NotFoundError("Token not found")
    api_token_revoked.send(sender=ApiToken, token=token)
    token.delete()
