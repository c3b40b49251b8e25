"""A session's sandbox: made by session_init, started on demand, held awake while something
uses it, stopped when idle, reconciled with what the providers really hold, removed with the
session.

Callers above (terminal, chat) only ask for `session_sandbox_start` and hold a `SandboxUse`
while they work. The files endpoints need no sandbox: they work on the working copy on the
server.

Race between a use and the idle stop: both lock the session's row. The idle pass stops a
sandbox only while holding the lock, after seeing no live use and an old `sandbox_active_at`;
`session_sandbox_start` starts the sandbox under the same lock and refreshes
`sandbox_active_at`, and `sandbox_use_begin` records the use before it starts the sandbox. So a
use either finds the sandbox stopped (and starts it again) or keeps the pass from stopping it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.sandbox.provider import (
    SandboxInfo,
    SandboxProvider,
    SandboxSpec,
    SandboxState,
    SandboxUnavailable,
)
from apps.sandbox.selectors import (
    LOCAL_PROVIDER_REFUSED,
    PROVIDER_NAMES,
    provider_choose,
    provider_get,
)
from apps.workspaces.models import (
    SESSION_SETTING_UP,
    SandboxUse,
    SandboxUseKind,
    Session,
    SessionStatus,
)
from apps.workspaces.services import session_rename, session_transition
from apps.workspaces.signals import sandbox_stopping
from apps.workspaces.transitions import SESSION_TRANSITIONS, By, transition_check
from discobot.errors import ConflictError

logger = logging.getLogger(__name__)

REMOVED_OUTSIDE = "removed outside Discobot"
STOPPED_OUTSIDE = "stopped outside Discobot"


def session_sandbox_spec(session: Session) -> SandboxSpec:
    return SandboxSpec(
        session_uuid=str(session.uuid),
        session_id=session.id,
        project_id=session.project_id,
        working_copy=Path(session.workspace_path),
    )


def session_sandbox_provider(session: Session) -> SandboxProvider:
    """The provider holding the session's sandbox, or the one its workspace runs on now.
    SandboxUnavailable when its engine does not answer (worth trying again), another
    ConflictError when trying again cannot help (a missing image, a refused provider)."""
    try:
        name = session.sandbox_provider or provider_choose(session.workspace.provider).name
    except ConflictError as error:
        if error.message == LOCAL_PROVIDER_REFUSED:
            raise
        name = "docker"  # asked for and not answering: its own check says why
    provider = provider_get(name)
    if provider is None:
        raise ConflictError(f"The {name} sandbox provider is not installed on this server")
    provider.check()
    return provider


def session_sandbox_create(session: Session) -> None:
    """session_init's step: the session's sandbox made and started on its provider."""
    provider = session_sandbox_provider(session)
    provider.create(session_sandbox_spec(session))
    provider.start(str(session.uuid))
    Session.objects.filter(pk=session.pk).update(
        sandbox_provider=provider.name,
        sandbox_active_at=timezone.now(),
        sandbox_stopped_reason="",
    )


def session_sandbox_start(session: Session) -> SandboxProvider:
    """Makes sure the session's sandbox exists and runs, and returns its provider. A session
    that was stopped (idle, by its user, or its sandbox lost outside the app) is ready again;
    a sandbox removed outside the app is made again."""
    with transaction.atomic():
        # Under the row lock the idle pass takes too (module docstring).
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related("workspace")
            .get(pk=session.pk)
        )
        if session.status in SESSION_SETTING_UP:
            raise ConflictError("The session is still being set up")
        if session.status not in (SessionStatus.READY, SessionStatus.STOPPED):
            raise ConflictError(f"The session is {session.status}")
        provider = session_sandbox_provider(session)
        sandbox = str(session.uuid)
        state = provider.status(sandbox).state
        if state == SandboxState.MISSING:
            provider.create(session_sandbox_spec(session))
        if state != SandboxState.RUNNING:
            provider.start(sandbox)
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
    least every SANDBOX_USE_LEASE_SECONDS / 3), and starts it if it is not running."""
    with transaction.atomic():
        locked = Session.objects.select_for_update().get(pk=session.pk)
        now = timezone.now()
        locked.sandbox_active_at = now
        locked.save(update_fields=["sandbox_active_at"])
        use = SandboxUse.objects.create(
            session=locked, kind=kind, user=user, expires_at=now + lease_length()
        )
    try:
        session_sandbox_start(session)
    except BaseException:
        SandboxUse.objects.filter(pk=use.pk).delete()
        raise
    return use


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


# --- Stopping and removing ---------------------------------------------------------------------


def sandbox_stopping_announce(session: Session) -> None:
    """`sandbox_stopping` to every receiver; one that fails does not keep the sandbox up."""
    for receiver, result in sandbox_stopping.send_robust(sender=Session, session=session):
        if isinstance(result, Exception):
            logger.error(
                "sandbox_stopping receiver %s failed for session %s: %s",
                receiver,
                session.uuid,
                result,
            )


STOPPED_BY_USER = "stopped by its user"


def idle_reason() -> str:
    seconds = round(settings.SANDBOX_IDLE_TIMEOUT)
    amount, unit = (seconds // 60, "minute") if seconds >= 60 else (seconds, "second")
    return f"idle for {amount} {unit}{'' if amount == 1 else 's'}"


def sessions_idle() -> QuerySet[Session]:
    """Ready sessions whose sandbox nothing used for SANDBOX_IDLE_TIMEOUT and nothing holds
    (an expired use's holder died: it no longer counts)."""
    now = timezone.now()
    live_use = SandboxUse.objects.filter(session=OuterRef("pk"), expires_at__gt=now)
    return (
        Session.objects.filter(
            status=SessionStatus.READY,
            sandbox_active_at__lt=now - timedelta(seconds=settings.SANDBOX_IDLE_TIMEOUT),
        )
        .exclude(sandbox_provider="")
        .exclude(Exists(live_use))
    )


def sandboxes_stop_idle() -> int:
    """The idle stop: each idle session's sandbox stopped and the session `stopped`, with the
    reason. Returns how many were stopped."""
    stopped = 0
    for pk in sessions_idle().values_list("pk", flat=True):
        try:
            stopped += session_sandbox_stop_idle(pk)
        except (SandboxUnavailable, ConflictError) as error:
            logger.warning("idle stop of session %s skipped: %s", pk, error)
    return stopped


@transaction.atomic
def session_sandbox_stop_idle(pk: UUID) -> bool:
    # Looked at again under the lock: a use may have begun since the pass looked.
    found = sessions_idle().select_for_update(of=("self",)).select_related("workspace")
    session = found.filter(pk=pk).first()
    if session is None:
        return False
    provider = session_sandbox_provider(session)
    sandbox_stopping_announce(session)
    provider.stop(str(session.uuid))
    session_lost(session, idle_reason())
    return True


@transaction.atomic
def session_change(*, session: Session, changes: dict[str, Any]) -> Session:
    """A client's PUT of a session: renamed, and its `status` changed where SESSION_TRANSITIONS
    lets a client (409 otherwise). `stopped` stops the sandbox and `ready` starts it again, so
    the status a client sets is what the sandbox really does."""
    session = session_rename(session=session, changes=changes)
    status = changes.get("status")
    if status is None or status == session.status:
        return session
    to = SessionStatus(status)
    transition_check(SESSION_TRANSITIONS, SessionStatus(session.status), to, by=By.CLIENT)
    if to == SessionStatus.STOPPED:
        session_sandbox_stop(session, reason=STOPPED_BY_USER)
    elif to == SessionStatus.READY:
        session_sandbox_start(session)
    else:
        session_transition(session, to, by=By.CLIENT)
    session.refresh_from_db()
    return session


def session_sandbox_stop(session: Session, *, reason: str) -> None:
    """Stops the session's sandbox (if it has one) and the session is `stopped`, saying why."""
    session = Session.objects.select_for_update(of=("self",)).get(pk=session.pk)
    if session.sandbox_provider:
        provider = session_sandbox_provider(session)
        sandbox_stopping_announce(session)
        provider.stop(str(session.uuid))
    session_lost(session, reason)


def session_lost(session: Session, reason: str) -> None:
    """A ready session whose sandbox no longer runs becomes `stopped`, saying why."""
    session.sandbox_stopped_reason = reason
    session.save(update_fields=["sandbox_stopped_reason"])
    session_transition(session, SessionStatus.STOPPED)


def session_sandbox_remove(session: Session) -> None:
    """Removes the session's sandbox (before its row goes). An engine that does not answer
    leaves it to the reconciler, which removes sandboxes whose session is gone."""
    if not session.sandbox_provider:
        return
    provider = provider_get(session.sandbox_provider)
    sandbox_stopping_announce(session)
    try:
        if provider is None:
            raise SandboxUnavailable(f"the {session.sandbox_provider} provider is not installed")
        provider.remove(str(session.uuid))
    except Exception as error:  # any engine failure: the reconciler finishes the job
        logger.warning("sandbox of session %s left to the reconciler: %s", session.uuid, error)
    session.sandbox_provider = ""
    Session.objects.filter(pk=session.pk).update(sandbox_provider="")


def sandbox_remove_later(provider_name: str, session_uuid: str) -> None:
    """Removes a deleted session's sandbox once the deletion commits; if the engine does not
    answer, the reconciler removes it later."""

    def remove() -> None:
        try:
            provider = provider_get(provider_name)
            if provider is not None:
                provider.remove(session_uuid)
        except Exception as error:  # any engine failure: the reconciler finishes the job
            logger.warning("sandbox of session %s left to the reconciler: %s", session_uuid, error)

    transaction.on_commit(remove)


# --- Reconciling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconciled:
    """What one reconcile pass did, for the operator's command to report."""

    stopped: int = 0  # ready sessions whose sandbox was gone or stopped
    removed: int = 0  # sandboxes whose session is gone
    skipped: tuple[str, ...] = ()  # providers that could not be reached


def sandboxes_reconcile() -> Reconciled:
    """Sessions compared with what each provider really holds: a ready session whose sandbox
    was removed or stopped outside the app becomes `stopped`; a sandbox whose session is gone
    is removed. A provider that cannot be reached is skipped, never taken for empty."""
    stopped = removed = 0
    skipped: list[str] = []
    for name in PROVIDER_NAMES:
        try:
            provider = provider_get(name)
            if provider is None or not provider.available():
                skipped.append(name)
                continue
            held = {info.session_uuid: info for info in provider.list()}
        except Exception as error:  # an engine that fails in any way is not there this turn
            logger.warning("reconcile skipped the %s provider: %s", name, error)
            skipped.append(name)
            continue
        done = provider_reconcile(provider, held)
        stopped += done.stopped
        removed += done.removed
    return Reconciled(stopped=stopped, removed=removed, skipped=tuple(skipped))


def provider_reconcile(provider: SandboxProvider, held: dict[str, SandboxInfo]) -> Reconciled:
    stopped = 0
    ready = Session.objects.filter(status=SessionStatus.READY, sandbox_provider=provider.name)
    for session in ready.only("pk"):
        info = held.get(str(session.pk))
        if info is None or info.state != SandboxState.RUNNING:
            stopped += session_reconcile(session.pk, provider)
    known = {
        str(pk) for pk in Session.objects.filter(pk__in=list(held)).values_list("pk", flat=True)
    }
    orphans = held.keys() - known
    for session_uuid in orphans:
        logger.info("removing the %s sandbox of deleted session %s", provider.name, session_uuid)
        provider.remove(session_uuid)
    return Reconciled(stopped=stopped, removed=len(orphans))


@transaction.atomic
def session_reconcile(pk: UUID, provider: SandboxProvider) -> bool:
    """True when the session was found without a running sandbox and became `stopped`."""
    session = Session.objects.select_for_update().filter(pk=pk).first()
    if session is None or session.status != SessionStatus.READY:
        return False
    info = provider.status(str(session.uuid))  # again, under the lock: it may have started
    if info.state == SandboxState.RUNNING:
        return False
    session_lost(
        session, REMOVED_OUTSIDE if info.state == SandboxState.MISSING else STOPPED_OUTSIDE
    )
    return True
