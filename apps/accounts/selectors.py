from __future__ import annotations

import hashlib

from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import (
    ANONYMOUS_USER_EMAIL,
    ANONYMOUS_USER_ID,
    ANONYMOUS_USER_NAME,
    ApiToken,
    AuthProvider,
    User,
    UserPreference,
)
from discobot import db
from discobot.errors import NotFoundError

# A token's last use is recorded at most this often, so reads stay reads.
LAST_USED_RESOLUTION_SECONDS = 60

# Every API request reads its token and user (discobot/db.py).
ROW_BY_HASH = "SELECT * FROM accounts_apitoken WHERE token_hash = %s"
USER_BY_HASH = (
    "SELECT u.* FROM accounts_user u JOIN accounts_apitoken t ON t.user_id = u.id"
    " WHERE t.token_hash = %s"
)


USER_BY_ID = "SELECT * FROM accounts_user WHERE id = %s"


def anonymous_user() -> User:
    """The single user of anonymous mode (read for every request in that mode); recreated if
    an operator deleted it."""
    user = db.row(User, USER_BY_ID, [db.value(User, ANONYMOUS_USER_ID)])
    if user is not None:
        return user
    user, _ = User.objects.get_or_create(
        id=ANONYMOUS_USER_ID,
        defaults={
            "email": ANONYMOUS_USER_EMAIL,
            "name": ANONYMOUS_USER_NAME,
            "provider": AuthProvider.LOCAL,
        },
    )
    return user


def api_token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def api_token_authenticate(*, raw_token: str) -> tuple[ApiToken | None, str]:
    """The active token with this value, or None and the reason it was refused."""
    token_hash = api_token_hash(raw_token)
    token = db.row(ApiToken, ROW_BY_HASH, [token_hash])
    if token is None:
        return None, "Invalid token"
    token.user = db.row(User, USER_BY_HASH, [token_hash])  # type: ignore[assignment]
    if token.user is None or not token.user.is_active:
        return None, "Invalid token"
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None, "Token expired"
    if (
        token.last_used_at is None
        or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
    ):
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
        token.last_used_at = now
    return token, ""


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    return user.api_tokens.order_by("-created_at")


def preference_list(*, user: User) -> QuerySet[UserPreference]:
    return user.preferences.order_by("key")


def preference_get(*, user: User, key: str) -> UserPreference:
    preference = user.preferences.filter(key=key).first()
    if preference is None:
        raise NotFoundError("Preference not found")
    return preference
