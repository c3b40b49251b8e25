from __future__ import annotations

import re
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import ApiToken, User, UserPreference
from apps.accounts.selectors import api_token_hash
from apps.accounts.signals import api_token_created, api_token_revoked
from discobot.errors import ApplicationError, NotFoundError

API_TOKEN_PREFIX = "dbt_"  # noqa: S105 (a marker for secret scanners, not a secret)

# The web app keeps a handful of small settings (`preferredIDE`, `prompts.pinned`); the limits
# keep one user's preferences from becoming a file store.
PREFERENCE_KEY = "[A-Za-z0-9._-]{1,100}"
PREFERENCE_VALUE_MAX_BYTES = 64 * 1024
PREFERENCES_MAX_PER_USER = 200


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


def preference_set(*, user: User, key: str, value: str) -> UserPreference:
    """Sets one of the user's preferences (made if new)."""
    preferences_set(user=user, values={key: value})
    return user.preferences.get(key=key)


@transaction.atomic
def preferences_set(*, user: User, values: dict[str, str]) -> None:
    """Sets several of the user's preferences at once; those not named are kept."""
    for key, value in values.items():
        preference_check(key=key, value=value)
    # The user's row is locked so that two writes at once cannot both pass the count.
    User.objects.select_for_update().filter(pk=user.pk).first()
    kept = set(user.preferences.values_list("key", flat=True))
    if len(kept | set(values)) > PREFERENCES_MAX_PER_USER:
        raise ApplicationError(
            f"A user may keep at most {PREFERENCES_MAX_PER_USER} preferences; delete some first"
        )
    UserPreference.objects.bulk_create(
        [UserPreference(user=user, key=key, value=value) for key, value in values.items()],
        update_conflicts=True,
        unique_fields=("user", "key"),
        update_fields=("value", "updated_at"),
    )


def preference_check(*, key: str, value: str) -> None:
    if not re.fullmatch(PREFERENCE_KEY, key):
        raise ApplicationError(
            f"Invalid preference key {key[:100]!r}: 1 to 100 letters, digits, '.', '_' or '-'"
        )
    if "\x00" in value:
        raise ApplicationError("A preference's value must not hold null characters")
    if len(value.encode()) > PREFERENCE_VALUE_MAX_BYTES:
        raise ApplicationError(
            f"The value of {key} is too long: a preference holds at most "
            f"{PREFERENCE_VALUE_MAX_BYTES // 1024} KiB"
        )


def preference_delete(*, user: User, key: str) -> None:
    deleted, _ = user.preferences.filter(key=key).delete()
    if not deleted:
        raise NotFoundError("Preference not found")
