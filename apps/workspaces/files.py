"""Files of a session's working copy and of a workspace's work tree.

The one code path for "read (or write, delete, rename, search) a file in a session", whoever
asks: the HTTP views, the sandbox runtime and the agent's Read/Write/Edit tools call these.
Paths are the client's, relative to the working copy; `apps.gitops.files` keeps every one of
them inside it.
"""

from __future__ import annotations

from apps.gitops import files as tree
from apps.gitops.files import FileContent
from apps.gitops.paths import shown
from apps.gitops.provider import Diff, FileChange, git_provider
from apps.workspaces.git import workspace_changed
from apps.workspaces.models import Session, Workspace
from apps.workspaces.paths import session_working_copy, workspace_repository

# --- A session's working copy --------------------------------------------------------------------


def session_folder_list(
    *, session: Session, path: str, hidden: bool = False
) -> list[dict[str, object]]:
    return tree.list_directory(session_working_copy(session).root, path, hidden=hidden)


def session_file_read(*, session: Session, path: str, from_base: bool = False) -> FileContent:
    """The file as it is now, or (`from_base`) as the session's base commit holds it."""
    copy = session_working_copy(session)
    if from_base:
        return tree.read_file_at(copy.root, path, ref=copy.base)
    return tree.read_file(copy.root, path)


def session_file_write(
    *,
    session: Session,
    path: str,
    content: str,
    encoding: str = "utf8",
    expected: str | None = None,
) -> int:
    """Writes the file and returns its size; with `expected` (its content as the writer last
    read it, in `encoding`), only if nobody changed it since (409 with the current content)."""
    root = session_working_copy(session).root
    return tree.write_file(root, path, content=content, encoding=encoding, original=expected)


def session_file_delete(*, session: Session, path: str) -> str:
    """Deletes a file or folder; returns which it was (`file` or `directory`)."""
    return tree.delete_path(session_working_copy(session).root, path)


def session_file_rename(*, session: Session, old_path: str, new_path: str) -> None:
    tree.rename_path(session_working_copy(session).root, old_path, new_path)


def session_file_search(
    *, session: Session, query: str, limit: int = 50
) -> list[dict[str, object]]:
    """Paths that hold `query`'s characters in order, best first (at most SEARCH_LIMIT_MAX)."""
    return tree.search_files(session_working_copy(session).root, query, limit=limit)


def session_diff(*, session: Session, patches: bool = True) -> Diff:
    """The session's changes against its base commit."""
    copy = session_working_copy(session)
    return git_provider().diff(copy.root, base=copy.base, patches=patches)


def session_file_diff(*, session: Session, path: str) -> FileChange:
    """One path's change against the session's base (as the old or the new name of a rename);
    status `unchanged` when it has none."""
    copy = session_working_copy(session)
    relative = tree.repository_path(copy.root, path)
    for change in git_provider().diff(copy.root, base=copy.base).files:
        if relative in (change.path, change.old_path):
            return change
    return FileChange(path=shown(relative), status="unchanged", patch="")


# --- A workspace's work tree ---------------------------------------------------------------------


def workspace_file_read(*, workspace: Workspace, path: str, ref: str = "HEAD") -> FileContent:
    """The file as the commit `ref` holds it."""
    return tree.read_file_at(workspace_repository(workspace), path, ref=ref)


def workspace_file_write(
    *,
    workspace: Workspace,
    path: str,
    content: str,
    encoding: str = "utf8",
    expected: str | None = None,
) -> int:
    """As `session_file_write`, in the workspace's work tree; the workspace's stream hears of it."""
    root = workspace_repository(workspace)
    size = tree.write_file(root, path, content=content, encoding=encoding, original=expected)
    workspace_changed(workspace=workspace, root=root)
    return size
