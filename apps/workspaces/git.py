"""A workspace's repository: what it holds, and the writes a member makes on it.

Every write that may move HEAD or change the work tree ends in `workspace_changed`, which
records the new HEAD as `Workspace.commit` and tells the project's stream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.accounts.models import User
from apps.gitops import files as tree
from apps.gitops.provider import Author, Diff, git_provider
from apps.workspaces.models import Workspace, WorkspaceStatus
from apps.workspaces.paths import workspace_repository
from apps.workspaces.services import workspace_transition

LOG_LIMIT_MAX = 500


def server_author() -> Author:
    """Who the server's own commits are by (a new repository's first commit, a session's
    changes applied to its workspace)."""
    return Author(settings.GIT_AUTHOR_NAME, settings.GIT_AUTHOR_EMAIL)


def user_author(user: User) -> Author:
    return Author(user.name or user.get_username(), user.email)


@transaction.atomic
def workspace_changed(*, workspace: Workspace, root: Path) -> None:
    """The workspace's repository changed under it: its HEAD is recorded and announced."""
    workspace_transition(workspace, WorkspaceStatus.READY, commit=git_provider().head(root))


# --- Reads -------------------------------------------------------------------------------------


def workspace_git_status(*, workspace: Workspace) -> dict[str, Any]:
    """The current branch (None when HEAD is detached), HEAD, and each changed file's state."""
    root = workspace_repository(workspace)
    git = git_provider()
    current = next((b["name"] for b in git.branches(root) if b["current"]), None)
    return {"branch": current, "commit": git.head(root), "files": git.status(root)}


def workspace_git_branches(*, workspace: Workspace) -> list[dict[str, object]]:
    return git_provider().branches(workspace_repository(workspace))


def workspace_git_diff(
    *, workspace: Workspace, base: str = "HEAD", target: str | None = None
) -> Diff:
    """Changes from `base` to `target` (None: the work tree)."""
    return git_provider().diff(workspace_repository(workspace), base=base, target=target)


def workspace_git_files(*, workspace: Workspace, ref: str = "HEAD") -> list[str]:
    return git_provider().tree_files(workspace_repository(workspace), ref=ref)


def workspace_git_log(
    *, workspace: Workspace, ref: str = "HEAD", limit: int = 50
) -> list[dict[str, object]]:
    """Commits reachable from `ref`, newest first, at most LOG_LIMIT_MAX."""
    limit = max(1, min(limit, LOG_LIMIT_MAX))
    return git_provider().log(workspace_repository(workspace), ref=ref, limit=limit)


# --- Writes ------------------------------------------------------------------------------------


def workspace_git_fetch(*, workspace: Workspace) -> None:
    git_provider().fetch(workspace_repository(workspace))


def workspace_git_checkout(*, workspace: Workspace, ref: str) -> str:
    """Checks out a branch or commit; returns the new HEAD."""
    root = workspace_repository(workspace)
    commit = git_provider().checkout(root, ref)
    workspace_changed(workspace=workspace, root=root)
    return commit


def workspace_git_stage(*, workspace: Workspace, paths: list[str]) -> None:
    """Stages the files (or their deletion): all of them or none."""
    root = workspace_repository(workspace)
    git_provider().stage(root, [tree.repository_path(root, path) for path in paths])


def workspace_git_commit(
    *, workspace: Workspace, user: User, message: str, all_changes: bool = False
) -> str:
    """Commits the index (with `all_changes`, every change) as `user`; returns the commit."""
    root = workspace_repository(workspace)
    author = user_author(user)
    commit = git_provider().commit(root, message=message, author=author, all_changes=all_changes)
    workspace_changed(workspace=workspace, root=root)
    return commit
