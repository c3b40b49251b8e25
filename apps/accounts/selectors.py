from __future__ import annotations

from apps.accounts.models import (
    ANONYMOUS_USER_EMAIL,
    ANONYMOUS_USER_ID,
    ANONYMOUS_USER_NAME,
    AuthProvider,
    User,
)


def anonymous_user() -> User:
    """The single user of anonymous mode; recreated if an operator deleted it."""
    user, _ = User.objects.get_or_create(
        id=ANONYMOUS_USER_ID,
        defaults={
            "email": ANONYMOUS_USER_EMAIL,
            "name": ANONYMOUS_USER_NAME,
            "provider": AuthProvider.LOCAL,
        },
    )
    return user
