"""A session's sandbox: made and started on demand, held awake while something uses it.

The lifecycle around it (made by session_init, stopped when idle, reconciled with what the
engine really holds, removed with the session) is written here too; callers above (terminal,
chat, files) only ask for `session_sandbox_start` and hold a `SandboxUse` while they work.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.sandbox.provider import SandboxProvider, SandboxSpec, SandboxState
from apps.sandbox.selectors import provider_choose, provider_get
from apps.workspaces.models import SandboxUse, SandboxUseKind, Session, SessionStatus
from apps.workspaces.services import session_transition
from discobot.errors import ConflictError

SETTING_UP = (
    SessionStatus.INITIALIZING,
    SessionStatus.REINITIALIZING,
    SessionStatus.CLONING,
    SessionStatus.PULLING_IMAGE,
    SessionStatus.CREATING_SANDBOX,
)


def session_sandbox_spec(session: Session) -> SandboxSpec:
    return SandboxSpec(
        session_uuid=str(session.uuid),
        session_id=session.id,
        project_id=session.project_id,
        working_copy=Path(session.workspace_path),
    )


def session_sandbox_provider(session: Session) -> SandboxProvider:
    """The provider holding the session's sandbox, or the one its workspace runs on now."""
    name = session.sandbox_provider or provider_choose(session.workspace.provider).name
    provider = provider_get(name)
    if provider is None or not provider.available():
        raise ConflictError(f"The {name} sandbox provider is not available on this server")
    return provider


def session_sandbox_start(session: Session) -> SandboxProvider:
    """Makes sure the session's sandbox exists and runs, and returns its provider. A session
    that was stopped (idle, or by its user) is ready again."""
    if session.status in SETTING_UP:
        raise ConflictError("The session is still being set up")
    if session.status not in (SessionStatus.READY, SessionStatus.STOPPED):
        raise ConflictError(f"The session is {session.status}")
    provider = session_sandbox_provider(session)
    sandbox = str(session.uuid)
    if provider.status(sandbox).state == SandboxState.MISSING:
        provider.create(session_sandbox_spec(session))
    provider.start(sandbox)
    with transaction.atomic():
        session = Session.objects.select_for_update().get(pk=session.pk)
        session.sandbox_provider = provider.name
        session.sandbox_active_at = timezone.now()
        session.sandbox_stopped_reason = ""
        session.save(
            update_fields=["sandbox_provider", "sandbox_active_at", "sandbox_stopped_reason"]
        )
        if session.status == SessionStatus.STOPPED:
            session_transition(session, SessionStatus.READY)
    return provider


def sandbox_use_begin(
    *, session: Session, kind: SandboxUseKind, user: User | None = None
) -> SandboxUse:
    """Holds the sandbox awake until `sandbox_use_end` (renewed by `sandbox_use_renew` at
    least every SANDBOX_USE_LEASE_SECONDS / 3)."""
    now = timezone.now()
    Session.objects.filter(pk=session.pk).update(sandbox_active_at=now)
    return SandboxUse.objects.create(
        session=session, kind=kind, user=user, expires_at=now + lease_length()
    )


def sandbox_use_renew(use: SandboxUse) -> None:
    now = timezone.now()
    SandboxUse.objects.filter(pk=use.pk).update(expires_at=now + lease_length())
    Session.objects.filter(pk=use.session_id).update(sandbox_active_at=now)


def sandbox_use_end(use: SandboxUse) -> None:
    """The idle timeout counts from now."""
    Session.objects.filter(pk=use.session_id).update(sandbox_active_at=timezone.now())
    SandboxUse.objects.filter(pk=use.pk).delete()


def lease_length() -> timedelta:
    return timedelta(seconds=settings.SANDBOX_USE_LEASE_SECONDS)
