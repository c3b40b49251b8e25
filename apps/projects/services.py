from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import audit_changes, audit_record
from apps.core.streams import stream_wake
from apps.projects.events import ProjectEventData, project_events_group
from apps.projects.models import (
    LOCAL_PROJECT_ID,
    Project,
    ProjectEvent,
    ProjectInvitation,
    ProjectMember,
    Role,
)
from discobot import db
from discobot.errors import (
    ApplicationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)

logger = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(days=7)
SLUG_BASE_MAX_LENGTH = 200
INVITABLE_ROLES = (Role.ADMIN, Role.MEMBER)


def project_slug(name: str) -> str:
    """Contract §2: lowercase, runs of other characters become `-`, then 8 random hex digits."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:SLUG_BASE_MAX_LENGTH].strip("-")
    return f"{base or 'project'}-{secrets.token_hex(4)}"


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def project_create(*, user: User, name: str) -> Project:
    project = Project.objects.create(name=name, slug=project_slug(name))
    ProjectMember.objects.create(
        project=project, user=user, role=Role.OWNER, accepted_at=timezone.now()
    )
    project_audit(project, "project.created", changes=audit_changes({}, {"name": name}))
    return project


def project_audit(project: Project, action: str, **fields: Any) -> None:
    audit_record(
        project_id=project.id,
        action=action,
        target_type="project",
        target_id=project.id,
        target_label=project.name,
        **fields,
    )


@transaction.atomic
def project_update(*, project: Project, name: str) -> Project:
    changes = audit_changes({"name": project.name}, {"name": name})
    project.name = name
    project.save(update_fields=["name", "updated_at"])
    project_audit(project, "project.updated", changes=changes)
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Deletes the project and everything under it (workspaces, sessions, agents, ...) at once."""
    if project.id == LOCAL_PROJECT_ID:
        raise ApplicationError("The local project cannot be deleted")
    project_audit(project, "project.deleted")
    project.delete()


@transaction.atomic
def member_remove(*, actor: ProjectMember, user_id: uuid.UUID) -> None:
    """Admins remove members; anyone but the owner may also leave on their own."""
    if actor.user_id != user_id and not actor.has_role(Role.ADMIN):
        raise PermissionDeniedError("Admin access required")
    member = (
        ProjectMember.objects.select_related("user")
        .filter(project_id=actor.project_id, user_id=user_id)
        .first()
    )
    if member is None:
        raise NotFoundError("Member not found")
    if member.role == Role.OWNER:
        raise PermissionDeniedError("Cannot remove project owner")
    member.delete()
    member_audit(
        member, "member.removed", changes=audit_changes({"role": member.role}, {"role": None})
    )


def member_audit(member: ProjectMember, action: str, **fields: Any) -> None:
    audit_record(
        project_id=member.project_id,
        action=action,
        target_type="member",
        target_id=member.user_id,
        target_label=member.user.email,
        **fields,
    )


@transaction.atomic
def invitation_create(
    *, project: Project, invited_by: User, email: str, role: str = Role.MEMBER
) -> tuple[ProjectInvitation, str]:
    """Invites an email address; returns the invitation and its token, which is never stored.

    Inviting the same address again replaces the earlier invitation (and its token).
    """
    if role not in INVITABLE_ROLES:
        raise ApplicationError("Role must be admin or member")
    email = email.strip().lower()
    if project.memberships.filter(user__email__iexact=email).exists():
        raise ConflictError("User is already a member of this project")
    token = secrets.token_hex(32)
    invitation, _ = ProjectInvitation.objects.update_or_create(
        project=project,
        email=email,
        defaults={
            "role": role,
            "invited_by": invited_by,
            "token_hash": invitation_token_hash(token),
            "expires_at": timezone.now() + INVITATION_LIFETIME,
        },
    )
    # The token is the invitation's secret: never recorded.
    audit_record(
        project_id=project.id,
        action="invitation.created",
        target_type="invitation",
        target_id=invitation.id,
        target_label=email,
        changes=audit_changes({}, {"email": email, "role": role}),
    )
    return invitation, token


@transaction.atomic
def invitation_accept(*, project_id: str, token: str, user: User) -> ProjectMember:
    """Makes the invited user a member; an invitation works once, before it expires."""
    invitation = (
        ProjectInvitation.objects.select_for_update()
        .filter(project_id=project_id, token_hash=invitation_token_hash(token))
        .first()
    )
    if invitation is None:
        raise ApplicationError("Invitation not found")
    if invitation.expires_at <= timezone.now():
        raise ApplicationError("Invitation has expired")
    if invitation.email.lower() != user.email.lower():
        raise PermissionDeniedError("This invitation was sent to a different email address")
    member, joined = ProjectMember.objects.get_or_create(
        project_id=project_id,
        user=user,
        defaults={
            "role": invitation.role,
            "invited_by": invitation.invited_by,
            "invited_at": invitation.created_at,
            "accepted_at": timezone.now(),
        },
    )
    invitation.delete()
    if joined:
        member_audit(member, "member.joined", changes=audit_changes({}, {"role": member.role}))
    return member


# Every write that clients hear of records an event (discobot/db.py): one statement takes the
# project's next number, where the ORM needs an UPDATE, then a SELECT.
NEXT_EVENT_SEQ = (
    "UPDATE projects_project SET last_event_seq = last_event_seq + 1 WHERE id = %s"
    " RETURNING last_event_seq"
)


# No savepoint of its own: nothing calls it to carry on after a failure, and a write that records
# an event would pay two more statements for one.
@transaction.atomic(savepoint=False)
def project_event_record(*, project_id: str, event: ProjectEventData) -> ProjectEvent:
    """Appends the event to the project's log with the next `seq`, and wakes its streams.

    The UPDATE holds the project row's lock until commit, so a project's events commit in `seq`
    order: a reader resuming after seq N can never later see a smaller seq appear.
    """
    seq = db.scalar(NEXT_EVENT_SEQ, [project_id])
    if seq is None:
        raise Project.DoesNotExist(f"No project {project_id}")
    recorded = ProjectEvent.objects.create(
        project_id=project_id, seq=seq, type=event.type, data=event.data()
    )
    group = project_events_group(project_id)
    transaction.on_commit(lambda: stream_wake(group=group, seq=seq))
    return recorded
