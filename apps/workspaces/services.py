from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.projects.jobs import job_enqueue, job_pending_exists
from apps.projects.models import JobType, Project
from apps.projects.services import project_event_record
from apps.workspaces.models import (
    CommitStatus,
    Session,
    SessionStatus,
    SourceType,
    Workspace,
    WorkspaceStatus,
)
from discobot.errors import ApplicationError, ConflictError, NotFoundError

# https://, http://, ssh://, git://, file:// URLs, scp-like `git@host:path`, or a folder path.
GIT_URL = re.compile(r"^(?:(?:https?|ssh|git|file)://\S+|[\w.-]+@[\w.-]+:\S+|[/~.]\S*)$")

# Changes a client may ask for with PUT/PATCH; the rest are the jobs' to make.
SESSION_TRANSITIONS = {
    SessionStatus.READY: {SessionStatus.STOPPED},
    SessionStatus.STOPPED: {SessionStatus.READY, SessionStatus.REINITIALIZING},
    SessionStatus.ERROR: {SessionStatus.REINITIALIZING},
}
SESSION_NAME_LENGTH = 50


# --- Workspaces --------------------------------------------------------------------------------


def local_path_check(raw_path: str) -> str:
    """A readable folder on this server, `~` expanded, inside WORKSPACE_ROOTS when set."""
    path = Path(os.path.normpath(os.path.expanduser(raw_path)))
    if not path.is_absolute():
        raise ApplicationError("Path must be absolute (or start with ~)")
    if not path.is_dir():
        raise ApplicationError(f"Path is not a folder on the server: {path}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ApplicationError(f"The server may not read {path}")
    if settings.WORKSPACE_ROOTS:
        real = path.resolve()
        if not any(real.is_relative_to(root.resolve()) for root in settings.WORKSPACE_ROOTS):
            raise ApplicationError("Path is outside the folders this server may use")
    return str(path)


def provider_check(provider: str) -> str:
    if provider and provider not in settings.SANDBOX_PROVIDERS:
        allowed = ", ".join(settings.SANDBOX_PROVIDERS)
        raise ApplicationError(f"Unknown provider {provider!r}; this server offers: {allowed}")
    return provider


def workspace_path_check(*, path: str, source_type: str) -> str:
    path = path.strip()
    if not path:
        raise ApplicationError("Path is required")
    if source_type == SourceType.LOCAL:
        return local_path_check(path)
    if not GIT_URL.match(path):
        raise ApplicationError("Path must be a git URL (https, ssh, git, file) or a folder")
    return path


@transaction.atomic
def workspace_create(
    *,
    project: Project,
    path: str,
    source_type: str = SourceType.LOCAL,
    display_name: str | None = None,
    provider: str = "",
    init_git: bool = False,
) -> Workspace:
    workspace = Workspace.objects.create(
        init_git=init_git,
        project=project,
        path=workspace_path_check(path=path, source_type=source_type),
        source_type=source_type,
        display_name=display_name or "",
        provider=provider_check(provider),
    )
    workspace_announce(workspace)
    job_enqueue(
        project_id=project.id,
        type=JobType.WORKSPACE_INIT,
        resource_type="workspace",
        resource_id=str(workspace.id),
    )
    return workspace


def workspace_update(*, workspace: Workspace, changes: dict[str, Any]) -> Workspace:
    """Applies the fields present in `changes`; `display_name=None` clears the name."""
    if "path" in changes:
        workspace.path = workspace_path_check(
            path=changes["path"], source_type=workspace.source_type
        )
    if "display_name" in changes:
        workspace.display_name = changes["display_name"] or ""
    if "provider" in changes:
        workspace.provider = provider_check(changes["provider"] or "")
    workspace.save()
    return workspace


def workspace_clone_dir(workspace: Workspace) -> Path:
    return Path(settings.WORKSPACE_DIR) / str(workspace.id)


@transaction.atomic
def workspace_delete(*, workspace: Workspace, delete_files: bool = False) -> None:
    """Deletes the workspace and its sessions; with `delete_files` also the server's clone.

    A local folder belongs to its user and is never deleted.
    """
    clone_dir = workspace_clone_dir(workspace)
    project_id = workspace.project_id
    workspace_id = str(workspace.id)
    workspace.delete()
    project_event_record(
        project_id=project_id,
        type="workspace_updated",
        data={"workspaceId": workspace_id, "status": "removed"},
    )
    if delete_files and clone_dir.exists():
        transaction.on_commit(lambda: shutil.rmtree(clone_dir, ignore_errors=True))


def workspace_announce(workspace: Workspace) -> None:
    project_event_record(
        project_id=workspace.project_id,
        type="workspace_updated",
        data={"workspaceId": str(workspace.id), "status": workspace.status},
    )


@transaction.atomic
def workspace_status_set(
    *, workspace: Workspace, status: WorkspaceStatus, error_message: str = "", **fields: str
) -> None:
    workspace.status = status
    workspace.error_message = error_message
    for name, value in fields.items():
        setattr(workspace, name, value)
    workspace.save()
    workspace_announce(workspace)


# --- Sessions ----------------------------------------------------------------------------------


def session_name_from(text: str) -> str:
    """Contract §2: the first 50 characters of the first message, with `...` when cut."""
    text = " ".join(text.split())
    if not text:
        return "New Session"
    return text if len(text) <= SESSION_NAME_LENGTH else text[:SESSION_NAME_LENGTH] + "..."


def session_announce(session: Session) -> None:
    project_event_record(
        project_id=session.project_id,
        type="session_updated",
        data={
            "sessionId": session.id,
            "status": session.status,
            "commitStatus": session.commit_status,
        },
    )


@transaction.atomic
def session_create(
    *,
    project: Project,
    session_id: str,
    workspace_id: str,
    agent_id: str | None = None,
    name: str = "",
) -> Session:
    workspace = project.workspaces.filter(id=workspace_id).first()
    if workspace is None:
        raise NotFoundError("Workspace not found")
    agent = None
    if agent_id is not None:
        agent = project.agents.filter(id=agent_id).first()
        if agent is None:
            raise NotFoundError("Agent not found")
    if Session.objects.filter(id=session_id).exists():
        raise ConflictError("A session with this id already exists")
    try:
        with transaction.atomic():
            session = Session.objects.create(
                id=session_id,
                project=project,
                workspace=workspace,
                agent=agent,
                name=session_name_from(name),
            )
    except IntegrityError:
        raise ConflictError("A session with this id already exists") from None
    session_announce(session)
    job_enqueue(
        project_id=project.id,
        type=JobType.SESSION_INIT,
        resource_type="session",
        resource_id=session.id,
    )
    return session


@transaction.atomic
def session_update(*, session: Session, changes: dict[str, Any]) -> Session:
    if "name" in changes:
        session.name = changes["name"]
    if "display_name" in changes:
        session.display_name = changes["display_name"] or ""
    status = changes.get("status")
    if status is not None and status != session.status:
        if status not in SESSION_TRANSITIONS.get(SessionStatus(session.status), set()):
            raise ConflictError(f"Cannot change status from {session.status} to {status}")
        session.status = status
    session.save()
    if status == SessionStatus.REINITIALIZING:
        job_enqueue(
            project_id=session.project_id,
            type=JobType.SESSION_INIT,
            resource_type="session",
            resource_id=session.id,
        )
    if status is not None:
        session_announce(session)
    return session


@transaction.atomic
def session_delete(*, session: Session) -> None:
    """Marks the session `removing`; the session_delete job removes it."""
    if session.status == SessionStatus.REMOVING:
        return
    session.status = SessionStatus.REMOVING
    session.save(update_fields=["status", "updated_at"])
    session_announce(session)
    job_enqueue(
        project_id=session.project_id,
        type=JobType.SESSION_DELETE,
        resource_type="session",
        resource_id=session.id,
    )


@transaction.atomic
def session_commit_request(*, session: Session) -> Session:
    """Queues a session_commit of the session's changes onto its workspace."""
    session = Session.objects.select_for_update().select_related("workspace").get(id=session.id)
    if session.commit_status in (CommitStatus.PENDING, CommitStatus.COMMITTING) or (
        job_pending_exists(type=JobType.SESSION_COMMIT, resource_id=session.id)
    ):
        raise ConflictError("A commit is already in progress for this session")
    session.commit_status = CommitStatus.PENDING
    session.commit_error = ""
    session.base_commit = session.workspace.commit
    session.save(update_fields=["commit_status", "commit_error", "base_commit", "updated_at"])
    session_announce(session)
    job_enqueue(
        project_id=session.project_id,
        type=JobType.SESSION_COMMIT,
        resource_type="session",
        resource_id=session.id,
    )
    return session


@transaction.atomic
def session_status_set(
    *, session: Session, status: SessionStatus | None = None, **fields: str
) -> None:
    if status is not None:
        session.status = status
    for name, value in fields.items():
        setattr(session, name, value)
    session.save()
    session_announce(session)
