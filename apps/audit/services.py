from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.accounts.models import User
from apps.audit.context import actor_of, current_actor
from apps.audit.models import AuditEntry

# What a secret field's values are recorded as: that it changed, never what it holds.
REDACTED = "[redacted]"


def audit_record(
    *,
    action: str,
    target_type: str,
    target_id: object,
    target_label: str = "",
    project_id: str = "",
    changes: Mapping[str, list[Any]] | None = None,
    actor: User | None = None,
) -> AuditEntry:
    """Records one change by the current request's caller (or `actor`, where the caller is not
    yet the request's user: a sign-in). Call it inside the write's transaction, so that a
    write rolled back leaves no entry."""
    who = current_actor()
    if actor is not None:
        who = actor_of(actor, address=who.address)
    return AuditEntry.objects.create(
        project_id=project_id,
        actor=who.user,
        actor_label=who.label,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_label=target_label[:300],
        changes=dict(changes or {}),
        address=who.address,
    )


def audit_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], *, secret: Iterable[str] = ()
) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for the fields whose values differ; a `secret` field's values are
    REDACTED. A creation passes `before={}`: every field given, its old value null."""
    secret = set(secret)
    changed: dict[str, list[Any]] = {}
    for field in after:
        old, new = before.get(field), after[field]
        if field in before and old == new:
            continue
        if field in secret:
            old, new = (None if old is None else REDACTED), (None if new is None else REDACTED)
        changed[field] = [old, new]
    return changed


def audit_prune(*, older_than: timedelta) -> int:
    """Deletes entries recorded more than `older_than` ago; returns how many."""
    deleted, _ = AuditEntry.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
