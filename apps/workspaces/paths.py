"""Where a workspace's and a session's files live on this server, and the branch a session works
on: the one place every caller (views, jobs, the sandbox runtime, the agent's tools) asks."""

from __future__ import annotations

import os
from collections.abc import Iterable
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


def workspace_roots() -> list[Path]:
    """WORKSPACE_ROOTS with symlinks resolved."""
    return [Path(os.path.realpath(root)) for root in settings.WORKSPACE_ROOTS]


def inside_roots(folder: Path, roots: Iterable[Path]) -> bool:
    """Whether `folder`, symlinks resolved, lies inside (or is) one of `roots` (resolved)."""
    real = Path(os.path.realpath(folder))
    return any(real.is_relative_to(root) for root in roots)


def inside_workspace_roots(folder: Path) -> bool:
    return inside_roots(folder, workspace_roots())


def suggestion_roots() -> list[Path]:
    """Where folder completions may look (symlinks resolved): WORKSPACE_ROOTS, or in anonymous
    mode without them the home folder of the server's user; nowhere when SUGGESTIONS_ENABLED is
    off or auth is on without roots (local folders are off then)."""
    if not settings.SUGGESTIONS_ENABLED:
        return []
    if settings.WORKSPACE_ROOTS:
        return workspace_roots()
    if settings.AUTH_ENABLED:
        return []
    return [Path(os.path.realpath(Path.home()))]


def server_folders() -> list[Path]:
    """Where the server keeps its own files: its data, clones, working copies, code, database."""
    folders = [settings.DATA_DIR, settings.WORKSPACE_DIR, settings.SESSIONS_DIR, settings.BASE_DIR]
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and os.path.isabs(str(database["NAME"])):
        folders.append(database["NAME"])
    return [Path(os.path.realpath(folder)) for folder in folders]


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
