"""Where a workspace's and a session's files live on this server, and the branch a session works
on: the one place every caller (views, jobs, the sandbox runtime, the agent's tools) asks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from apps.gitops.provider import SESSION_BRANCH_PREFIX, git_provider
from apps.workspaces.models import Session, Workspace, WorkspaceStatus
from discobot.errors import ConflictError


@dataclass(frozen=True)
class WorkingCopy:
    """A session's working copy, ready to use: its folder and the commit its changes start from."""

    root: Path
    base: str


def workspace_clone_dir(workspace: Workspace) -> Path:
    """Where the server clones a git workspace."""
    return Path(settings.WORKSPACE_DIR) / str(workspace.id)


def workspace_repository(workspace: Workspace) -> Path:
    """The workspace's folder, once it is checked to be the root of a repository the server may
    work on (409 otherwise, before anything is read or written)."""
    if not workspace.work_dir:
        if workspace.status == WorkspaceStatus.READY:
            raise ConflictError("The workspace's folder is not a git repository")
        raise ConflictError("The workspace is not ready yet")
    root = Path(workspace.work_dir)
    git_provider().repository_check(root)
    return root


def session_dir(session: Session) -> Path:
    """The session's working copy: where it was made, else SESSIONS_DIR/<uuid>, apart from any
    other project's session of the same id and from a later session that reuses the id."""
    if session.workspace_path:
        return Path(session.workspace_path)
    return Path(settings.SESSIONS_DIR) / str(session.uuid)


def session_branch(session: Session) -> str:
    return f"{SESSION_BRANCH_PREFIX}{session.id}"


def session_working_copy(session: Session) -> WorkingCopy:
    """The session's working copy (409 until the session_init job has made it)."""
    if not session.workspace_path:
        raise ConflictError("The session's working copy is not ready yet")
    return WorkingCopy(root=Path(session.workspace_path), base=session.workspace_commit)
