"""Sign-ins and API tokens, recorded here: apps.accounts is below this app and cannot call it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in

from apps.accounts.models import ApiToken, User
from apps.accounts.signals import api_token_created, api_token_revoked
from apps.audit.services import audit_changes, audit_record


def signed_in(sender: Any, user: User, **kwargs: Any) -> None:
    # Django's signal, sent by every login: allauth's GitHub/Google callback and the admin's.
    audit_record(
        action="user.signed_in",
        target_type="user",
        target_id=user.id,
        target_label=user.email,
        actor=user,
    )


def token_created(sender: Any, token: ApiToken, **kwargs: Any) -> None:
    audit_record(
        action="token.created",
        target_type="token",
        target_id=token.id,
        target_label=f"{token.name} ({token.user.email})",
        changes=audit_changes({}, {"name": token.name, "expires_at": token.expires_at}),
    )


def token_revoked(sender: Any, token: ApiToken, **kwargs: Any) -> None:
    audit_record(
        action="token.revoked",
        target_type="token",
        target_id=token.id,
        target_label=f"{token.name} ({token.user.email})",
    )


def receivers_connect() -> None:
    user_logged_in.connect(signed_in, dispatch_uid="audit.signed_in")
    api_token_created.connect(token_created, dispatch_uid="audit.token_created")
    api_token_revoked.connect(token_revoked, dispatch_uid="audit.token_revoked")
