from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pygit2
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from pygit2.enums import RepositoryOpenFlag

from apps.accounts.models import User
from apps.audit.services import audit_changes, audit_record
from apps.core.jobs import job_enqueue
from apps.core.models import Job, JobStatus
from apps.gitops.provider import CloneProgress
from apps.projects.events import SessionUpdated, WorkspaceUpdated
from apps.projects.models import Project
from apps.projects.services import project_event_record
from apps.sandbox.selectors import provider_choose
from apps.workspaces.models import (
    SESSION_SETTING_UP,
    CommitStatus,
    JobType,
    Session,
    SessionAction,
    SessionActionKind,
    SessionStatus,
    SourceType,
    Workspace,
    WorkspaceStatus,
)
from apps.workspaces.paths import inside_workspace_roots, server_folders, workspace_clone_dir
from apps.workspaces.transitions import (
    COMMIT_TRANSITIONS,
    SESSION_TRANSITIONS,
    WORKSPACE_TRANSITIONS,
    By,
    transition_check,
)
from discobot import db
from discobot.errors import ApplicationError, ConflictError, NotFoundError

# Git URL forms: `scheme://...`, scp-like `user@host:path`, or a path on this server.
SCHEME_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://\S+$")
SCP_URL = re.compile(r"^[\w.-]+@[\w.-]+:\S+$")
# git's `transport::address` runs a remote helper (`ext::` runs any command, `fd::` reads the
# server's file descriptors). libgit2 does not speak it, a git command line would.
REMOTE_HELPER_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
# A part starting with `-` could reach ssh or git as an option (`-oProxyCommand=`,
# `--upload-pack=`).
OPTION_LIKE = re.compile(r"(?:^|[^\w.-])-")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Anonymous mode is one person's laptop: it clones whatever its owner could clone by hand.
ANONYMOUS_GIT_URL_SCHEMES = ("http", "https", "ssh", "git")
# pg_advisory_xact_lock key ("discobot" in ASCII) that serialises claims of folders.
FOLDER_CLAIMS_LOCK = 0x646973636F626F74

LOCAL_FOLDERS_DISABLED = (
    "Local folders are disabled on this server: the operator enables them by setting "
    "WORKSPACE_ROOTS"
)
FOLDER_CLAIMED = "This folder is used by a workspace of a project you are not a member of"
FOLDER_MOVED = (
    "The folder is no longer the one that was checked when the path was set (a symbolic link "
    "changed); set the path again"
)

SESSION_NAME_LENGTH = 50
# The job that entering a state starts: the state says the work is pending, the job does it.
WORKSPACE_JOBS = {WorkspaceStatus.INITIALIZING: JobType.WORKSPACE_INIT}
SESSION_JOBS = {
    SessionStatus.INITIALIZING: JobType.SESSION_INIT,
    SessionStatus.REINITIALIZING: JobType.SESSION_INIT,
    SessionStatus.REMOVING: JobType.SESSION_DELETE,
}
COMMIT_JOBS = {CommitStatus.PENDING: JobType.SESSION_COMMIT}


# --- Workspace sources -------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkspaceSource:
    """Where a workspace takes its files from, as this server's rules accept it."""

    path: str  # as stored and shown: the cleaned folder path, or the URL
    folder: Path | None  # the folder on this server (symlinks resolved); None for a remote URL

    @property
    def real_path(self) -> str:
        return str(self.folder) if self.folder is not None else ""


def overlaps(a: Path, b: Path) -> bool:
    return a.is_relative_to(b) or b.is_relative_to(a)


def local_folder_check(raw_path: str) -> tuple[str, Path]:
    """A readable folder on this server, `~` expanded; returns the cleaned path and the folder
    with symlinks resolved. With auth on, only inside WORKSPACE_ROOTS and clear of the server's
    own files. The roots are checked first, so whether a folder outside them exists does not
    show."""
    if CONTROL_CHARACTERS.search(raw_path):
        raise ApplicationError("Path must not contain control characters")
    path = Path(os.path.normpath(os.path.expanduser(raw_path)))
    if not path.is_absolute():
        raise ApplicationError("Path must be absolute (or start with ~)")
    if settings.AUTH_ENABLED and not settings.WORKSPACE_ROOTS:
        raise ApplicationError(LOCAL_FOLDERS_DISABLED)
    folder = Path(os.path.realpath(path))
    if settings.WORKSPACE_ROOTS and not inside_workspace_roots(folder):
        raise ApplicationError("Path is outside the folders this server may use")
    if not folder.is_dir():
        raise ApplicationError(f"Path is not a folder on the server: {path}")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ApplicationError(f"The server may not read {path}")
    if settings.AUTH_ENABLED and any(overlaps(folder, own) for own in server_folders()):
        raise ApplicationError("Path overlaps the folders where this server keeps its own files")
    return str(path), folder


def git_source_check(url: str) -> WorkspaceSource:
    """A git URL with an allowed scheme, or a repository on this disk under the folder rules."""
    if CONTROL_CHARACTERS.search(url):
        raise ApplicationError("Git URL must not contain control characters")
    if REMOTE_HELPER_URL.match(url):
        raise ApplicationError("Git remote helpers (transport::address) are not allowed")
    if OPTION_LIKE.search(url):
        raise ApplicationError(
            "Git URL has a part starting with '-' (git could take it for an option)"
        )
    if url.startswith(("/", "~", ".")):
        return WorkspaceSource(path=url, folder=local_folder_check(url)[1])
    if match := SCHEME_URL.match(url):
        scheme = match[1].lower()
    elif SCP_URL.match(url):
        scheme = "ssh"
    else:
        raise ApplicationError("Path must be a git URL (https, ssh, git, file) or a folder")
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ApplicationError("A file:// URL must name a folder on this server (file:///path)")
        return WorkspaceSource(path=url, folder=local_folder_check(unquote(parts.path))[1])
    allowed = list(settings.GIT_URL_SCHEMES)
    if not settings.AUTH_ENABLED:
        allowed += [s for s in ANONYMOUS_GIT_URL_SCHEMES if s not in allowed]
    if scheme not in allowed:
        raise ApplicationError(
            f"Git URLs with {scheme}:// are not allowed on this server (allowed: "
            f"{', '.join(allowed)}); the operator may allow more in GIT_URL_SCHEMES"
        )
    return WorkspaceSource(path=url, folder=None)


def workspace_source_check(*, path: str, source_type: str) -> WorkspaceSource:
    """`path` under the server's rules for `source_type`; who may use a folder is
    folder_claim_check's question."""
    path = path.strip()
    if not path:
        raise ApplicationError("Path is required")
    if source_type == SourceType.LOCAL:
        cleaned, folder = local_folder_check(path)
        return WorkspaceSource(path=cleaned, folder=folder)
    return git_source_check(path)


def workspace_source_recheck(workspace: Workspace) -> WorkspaceSource:
    """A workspace's source under the server's rules of now (they may have changed since it was
    added), and still the folder that was checked and claimed then."""
    source = workspace_source_check(path=workspace.path, source_type=workspace.source_type)
    if source.real_path != workspace.real_path:
        raise ApplicationError(FOLDER_MOVED)
    return source


def folder_claims_lock() -> None:
    """Claims are checked and recorded one at a time, so two projects adding the same folder at
    once cannot both pass. (SQLite's write transactions, BEGIN IMMEDIATE, are serial already.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FOLDER_CLAIMS_LOCK])


# Run for every local folder added (discobot/db.py): the ORM's query took 0.8 ms to build. A
# workspace of another project whose folder is this one, one around it or one inside it (the
# prefix compared exactly, as paths are), in a project the caller is not a member of.
FOLDER_CLAIMS = """
    SELECT 1 FROM workspaces_workspace w
    WHERE w.project_id <> %s
      AND (w.real_path IN ({around}) OR substr(w.real_path, 1, %s) = %s)
      AND NOT EXISTS (
        SELECT 1 FROM projects_projectmember m WHERE m.project_id = w.project_id AND m.user_id = %s
      )
"""


def folder_claim_check(*, folder: Path, project: Project, user: User) -> None:
    """A folder another project's workspace uses (the same folder, one inside it or one around
    it) stays that project's: only its members may bring it into another project. The answer
    does not say which project."""
    folder_claims_lock()
    around = [str(folder), *(str(parent) for parent in folder.parents)]
    inside = str(folder).rstrip("/") + "/"
    claimed = db.exists(
        FOLDER_CLAIMS.format(around=", ".join(["%s"] * len(around))),
        [project.pk, *around, len(inside), inside, db.value(User, user.pk)],
    )
    if claimed:
        raise ConflictError(FOLDER_CLAIMED)


def folder_is_repository(folder: Path) -> bool:
    """Whether `folder` is the root of its own repository: git directory `folder/.git` (a real
    folder) and work tree exactly `folder`. A folder inside another repository is not: that
    repository is not the workspace's to use."""
    dot_git = folder / ".git"
    if not os.path.lexists(dot_git):
        return False
    if dot_git.is_symlink() or not dot_git.is_dir():
        raise ApplicationError(
            f"{dot_git} is not a folder (a link, a linked worktree or a submodule); "
            "add the repository it belongs to instead"
        )
    try:
        repo = pygit2.Repository(str(folder), RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError:
        raise ApplicationError(f"{dot_git} is not a usable git repository") from None
    if repo.is_bare or repo.workdir is None or Path(repo.workdir).resolve() != folder:
        raise ApplicationError(
            f"The repository in {folder} has its work tree elsewhere (core.worktree or core.bare)"
        )
    return True


def provider_check(provider: str) -> str:
    """A provider this server runs now; the name is kept as asked, so a `docker` workspace that
    falls back to the local provider moves to Docker once an engine answers."""
    provider_choose(provider)
    return provider


# --- Workspaces --------------------------------------------------------------------------------


def workspace_create(
    *,
    project: Project,
    user: User,
    path: str,
    source_type: str = SourceType.LOCAL,
    display_name: str | None = None,
    provider: str = "",
    init_git: bool = False,
) -> Workspace:
    # The folder is looked at on disk before the transaction: on SQLite, writers wait for
    # each other from its first statement.
    source = workspace_source_check(path=path, source_type=source_type)
    provider = provider_check(provider)
    workspace = Workspace(
        init_git=init_git,
        project=project,
        path=source.path,
        real_path=source.real_path,
        source_type=source_type,
        display_name=display_name or "",
        provider=provider,
    )
    with transaction.atomic():
        # What waits for nobody is written first: on PostgreSQL the claims' lock and then the
        # project's row (its next event number) are held until the commit, and every add of a
        # project waits for them. The rows name the workspace by its id, made above.
        workspace_audit(
            workspace,
            "workspace.created",
            changes=audit_changes({}, workspace_audit_fields(workspace)),
        )
        workspace_job_queue(workspace)
        if source.folder is not None:
            folder_claim_check(folder=source.folder, project=project, user=user)
        workspace.save(force_insert=True)
        workspace_announce(workspace)
    return workspace


def workspace_audit_fields(workspace: Workspace) -> dict[str, Any]:
    return {
        "path": workspace.path,
        "source_type": workspace.source_type,
        "display_name": workspace.display_name,
        "provider": workspace.provider,
    }


def workspace_audit(workspace: Workspace, action: str, **fields: Any) -> None:
    audit_record(
        project_id=workspace.project_id,
        action=action,
        target_type="workspace",
        target_id=workspace.id,
        target_label=workspace.display_name or workspace.path,
        **fields,
    )


@transaction.atomic
def workspace_update(*, workspace: Workspace, user: User, changes: dict[str, Any]) -> Workspace:
    """Applies the fields present in `changes`; `display_name=None` clears the name. A new path
    is checked like a new workspace's, and the workspace is prepared again from it."""
    before = workspace_audit_fields(workspace)
    source = None
    if "path" in changes:
        source = workspace_source_check(path=changes["path"], source_type=workspace.source_type)
        if (source.path, source.real_path) == (workspace.path, workspace.real_path):
            source = None
        elif source.folder is not None:
            folder_claim_check(folder=source.folder, project=workspace.project, user=user)
    if "display_name" in changes:
        workspace.display_name = changes["display_name"] or ""
    if "provider" in changes:
        workspace.provider = provider_check(changes["provider"] or "")
    if source is not None:
        workspace.path, workspace.real_path = source.path, source.real_path
    workspace.save()
    workspace_audit(
        workspace,
        "workspace.updated",
        changes=audit_changes(before, workspace_audit_fields(workspace)),
    )
    if source is not None:
        # The commit and work_dir were the old source's; workspace_init finds the new ones.
        workspace_transition(workspace, WorkspaceStatus.INITIALIZING, commit="", work_dir="")
    return workspace


@transaction.atomic
def workspace_delete(*, workspace: Workspace, delete_files: bool = False) -> None:
    """Deletes the workspace and its sessions; with `delete_files` also the server's clone.

    A local folder belongs to its user and is never deleted.
    """
    clone_dir = workspace_clone_dir(workspace)
    project_id = workspace.project_id
    workspace_id = str(workspace.id)
    workspace_audit(workspace, "workspace.deleted")
    workspace.delete()
    project_event_record(
        project_id=project_id, event=WorkspaceUpdated(workspace_id=workspace_id, status="removed")
    )
    if delete_files and clone_dir.exists():
        transaction.on_commit(lambda: shutil.rmtree(clone_dir, ignore_errors=True))


@transaction.atomic
def workspace_transition(
    workspace: Workspace,
    to: WorkspaceStatus,
    *,
    reason: str = "",
    commit: str | None = None,
    work_dir: str | None = None,
) -> None:
    """The one writer of a workspace's status: checked against WORKSPACE_TRANSITIONS, saved,
    announced, and the job of the new state queued. `reason` is the error an `error` state
    shows; `commit` and `work_dir`, where given, are the repository it now stands on."""
    transition_check(WORKSPACE_TRANSITIONS, WorkspaceStatus(workspace.status), to, by=By.SYSTEM)
    workspace.status = to
    workspace.error_message = reason if to == WorkspaceStatus.ERROR else ""
    workspace.progress = None  # a new state starts without any
    fields = ["status", "error_message", "progress", "updated_at"]
    if commit is not None:
        workspace.commit = commit
        fields.append("commit")
    if work_dir is not None:
        workspace.work_dir = work_dir
        fields.append("work_dir")
    workspace.save(update_fields=fields)
    workspace_entered(workspace)


def workspace_progress_report(workspace: Workspace, progress: CloneProgress) -> None:
    """Tells the workspace's viewers how far its clone's download is."""
    shown = {
        "receivedObjects": progress.received_objects,
        "totalObjects": progress.total_objects,
        "indexedDeltas": progress.indexed_deltas,
        "totalDeltas": progress.total_deltas,
        "receivedBytes": progress.received_bytes,
    }
    Workspace.objects.filter(pk=workspace.pk).update(progress=shown)
    project_event_record(
        project_id=workspace.project_id,
        event=WorkspaceUpdated(
            workspace_id=str(workspace.id), status=workspace.status, progress=shown
        ),
    )


def workspace_entered(workspace: Workspace) -> None:
    """A workspace saved in a new state is announced, then its state's job queued (a new one's
    rows are written in another order: `workspace_create`)."""
    workspace_announce(workspace)
    workspace_job_queue(workspace)


def workspace_announce(workspace: Workspace) -> None:
    project_event_record(
        project_id=workspace.project_id,
        event=WorkspaceUpdated(workspace_id=str(workspace.id), status=workspace.status),
    )


def workspace_job_queue(workspace: Workspace) -> None:
    """Queues the job of the workspace's state, if it has one."""
    job = WORKSPACE_JOBS.get(WorkspaceStatus(workspace.status))
    if job is not None:
        job_enqueue(
            project_id=workspace.project_id,
            type=job,
            resource_type="workspace",
            resource_id=str(workspace.id),
        )


# --- Sessions ----------------------------------------------------------------------------------


def session_name_from(text: str) -> str:
    """Contract §2: the first 50 characters of the first message, with `...` when cut."""
    text = " ".join(text.split())
    if not text:
        return "New Session"
    return text if len(text) <= SESSION_NAME_LENGTH else text[:SESSION_NAME_LENGTH] + "..."


@transaction.atomic
def session_create(
    *,
    project: Project,
    session_id: str,
    workspace_id: str,
    agent_id: str | None = None,
    name: str = "",
    model: str = "",
) -> Session:
    workspace = project.workspaces.filter(id=workspace_id).first()
    if workspace is None:
        raise NotFoundError("Workspace not found")
    agent = None
    if agent_id is not None:
        agent = project.agents.filter(id=agent_id).first()
        if agent is None:
            raise NotFoundError("Agent not found")
    # Ids are the project's own: another project's session of the same id never shows here.
    if project.sessions.filter(id=session_id).exists():
        raise ConflictError("A session with this id already exists")
    try:
        with transaction.atomic():
            session = Session.objects.create(
                id=session_id,
                project=project,
                workspace=workspace,
                agent=agent,
                name=session_name_from(name),
                model=model,
            )
    except IntegrityError:
        raise ConflictError("A session with this id already exists") from None
    session_audit(
        session,
        "session.created",
        changes=audit_changes(
            {},
            {
                "name": session.name,
                "workspace_id": str(workspace.id),
                "agent_id": agent and str(agent.id),
                "model": model,
            },
        ),
    )
    session_entered(session, job=SESSION_JOBS.get(SessionStatus(session.status)))
    return session


@transaction.atomic
def session_rename(*, session: Session, changes: dict[str, Any]) -> Session:
    """Its `name` and `display_name`, where `changes` holds them (a status change is
    `sandboxes.session_change`'s: it may start or stop the sandbox)."""
    before = {"name": session.name, "display_name": session.display_name}
    if "name" in changes:
        session.name = changes["name"]
    if "display_name" in changes:
        session.display_name = changes["display_name"] or ""
    session.save()
    after = {"name": session.name, "display_name": session.display_name}
    session_audit(session, "session.updated", changes=audit_changes(before, after))
    return session


@transaction.atomic
def session_delete(*, session: Session) -> None:
    """Marks the session `removing`; the session_delete job removes it."""
    if session.status != SessionStatus.REMOVING:
        session_transition(session, SessionStatus.REMOVING)
        session_audit(session, "session.deleted")


def session_audit(session: Session, action: str, **fields: Any) -> None:
    audit_record(
        project_id=session.project_id,
        action=action,
        target_type="session",
        target_id=session.id,
        target_label=session.display_name or session.name,
        **fields,
    )


@transaction.atomic
def session_remove(*, session: Session) -> None:
    """The end of a session: its row goes, and its stream says `removed`."""
    project_id, session_id = session.project_id, session.id
    session.delete()
    project_event_record(
        project_id=project_id,
        event=SessionUpdated(session_id=session_id, status=SessionStatus.REMOVED),
    )


@transaction.atomic
def session_commit_request(*, session: Session) -> Session:
    """Queues a session_commit of the session's changes onto its workspace."""
    session = Session.objects.select_for_update().select_related("workspace").get(pk=session.pk)
    commit_queued = Job.objects.filter(
        project_id=session.project_id,  # the id alone may be another project's session too
        type=JobType.SESSION_COMMIT,
        resource_id=session.id,
        status__in=(JobStatus.PENDING, JobStatus.RUNNING),
    )
    if session.commit_status in (CommitStatus.PENDING, CommitStatus.COMMITTING) or (
        commit_queued.exists()
    ):
        raise ConflictError("A commit is already in progress for this session")
    session_commit_transition(session, CommitStatus.PENDING, base_commit=session.workspace.commit)
    return session


@transaction.atomic
def session_transition(
    session: Session,
    to: SessionStatus,
    *,
    by: By = By.SYSTEM,
    reason: str = "",
    workspace_path: str | None = None,
    workspace_commit: str | None = None,
) -> None:
    """The one writer of a session's status: checked against SESSION_TRANSITIONS for `by`,
    saved, announced, and the job of the new state queued. `reason` is the error an `error`
    state shows; `workspace_path` and `workspace_commit`, where given, are its working copy."""
    transition_check(SESSION_TRANSITIONS, SessionStatus(session.status), to, by=by)
    session.status = to
    session.error_message = reason if to == SessionStatus.ERROR else ""
    if to not in SESSION_SETTING_UP:
        session.progress = None
    fields = ["status", "error_message", "progress", "updated_at"]
    if workspace_path is not None:
        session.workspace_path = workspace_path
        fields.append("workspace_path")
    if workspace_commit is not None:
        session.workspace_commit = workspace_commit
        fields.append("workspace_commit")
    session.save(update_fields=fields)
    session_entered(session, job=SESSION_JOBS.get(to))


# The steps of a session's setup, in order, as its viewers read them.
SESSION_STEPS = {
    "working_copy": "Preparing its working copy",
    "sandbox": "Creating its sandbox",
}


def session_progress_report(session: Session, step: str) -> None:
    """Tells the session's viewers which step of its setup it is at."""
    shown = {
        "step": step,
        "description": SESSION_STEPS[step],
        "stepNumber": list(SESSION_STEPS).index(step) + 1,
        "stepCount": len(SESSION_STEPS),
    }
    session.progress = shown
    Session.objects.filter(pk=session.pk).update(progress=shown)
    project_event_record(
        project_id=session.project_id,
        event=SessionUpdated(session_id=session.id, status=session.status, progress=shown),
    )


@transaction.atomic
def session_commit_transition(
    session: Session,
    to: CommitStatus,
    *,
    reason: str = "",
    base_commit: str | None = None,
    applied_commit: str | None = None,
    workspace_commit: str | None = None,
) -> None:
    """The one writer of a session's commit status, as `session_transition` is of its status:
    `base_commit` is the workspace commit a requested commit starts from, `applied_commit` the
    one it made there, `workspace_commit` how far the working copy is in the workspace now."""
    transition_check(COMMIT_TRANSITIONS, CommitStatus(session.commit_status), to, by=By.SYSTEM)
    session.commit_status = to
    session.commit_error = reason if to == CommitStatus.FAILED else ""
    fields = ["commit_status", "commit_error", "updated_at"]
    if base_commit is not None:
        session.base_commit = base_commit
        fields.append("base_commit")
    if applied_commit is not None:
        session.applied_commit = applied_commit
        fields.append("applied_commit")
    if workspace_commit is not None:
        session.workspace_commit = workspace_commit
        fields.append("workspace_commit")
    session.save(update_fields=fields)
    session_entered(session, job=COMMIT_JOBS.get(to))


def session_entered(session: Session, *, job: JobType | None) -> None:
    """A session (new, or saved in a new state) is announced, then `job` queued."""
    project_event_record(
        project_id=session.project_id,
        event=SessionUpdated(
            session_id=session.id, status=session.status, commit_status=session.commit_status
        ),
    )
    if job is not None:
        job_enqueue(
            project_id=session.project_id,
            type=job,
            resource_type="session",
            resource_id=session.id,
        )


# What of a tool call's input an action keeps.
ACTION_INPUT_MAX = 500


def session_action_record(
    *,
    session_pk: Any,
    kind: SessionActionKind,
    user_id: Any = None,
    message_id: str = "",
    tool: str = "",
    arguments: Any = None,
    exit_code: int | None = None,
    error: str = "",
    files: list[str] | None = None,
    duration_ms: int | None = None,
    provider: str = "",
    address: str = "",
) -> SessionAction:
    """Adds an action to the session's audit trail (its input cut to its first 500
    characters of JSON)."""
    return SessionAction.objects.create(
        session_id=session_pk,
        kind=kind,
        user_id=user_id,
        message_id=message_id,
        tool=tool,
        input=json.dumps(arguments)[:ACTION_INPUT_MAX] if arguments is not None else "",
        exit_code=exit_code,
        error=error,
        files=files or [],
        duration_ms=duration_ms,
        provider=provider,
        address=address[:100],
    )
