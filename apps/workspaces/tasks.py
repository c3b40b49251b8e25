"""Job handlers for workspaces and sessions (run by `manage.py worker`)."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

import pygit2
from django.conf import settings
from django.db import transaction

from apps.core.jobs import JobDeferred, JobFailed, job_handler
from apps.core.models import Job
from apps.gitops.provider import CloneProgress, CloneProgressReport, GitError, git_provider
from apps.sandbox.provider import SandboxUnavailable
from apps.workspaces.git import server_author
from apps.workspaces.models import (
    CommitStatus,
    JobType,
    Session,
    SessionStatus,
    SourceType,
    Workspace,
    WorkspaceStatus,
)
from apps.workspaces.paths import session_branch, session_dir, workspace_clone_dir
from apps.workspaces.sandboxes import session_sandbox_create, session_sandbox_remove
from apps.workspaces.selectors import job_session, job_workspace, workspace_clone_token
from apps.workspaces.services import (
    folder_is_repository,
    session_commit_transition,
    session_progress_report,
    session_remove,
    session_transition,
    workspace_progress_report,
    workspace_source_recheck,
    workspace_transition,
)
from apps.workspaces.transitions import IllegalTransition
from discobot.errors import ApplicationError, ConflictError

logger = logging.getLogger(__name__)

Resource = TypeVar("Resource", Workspace, Session)
SETTING_UP = (
    SessionStatus.INITIALIZING,
    SessionStatus.REINITIALIZING,
    SessionStatus.CREATING_SANDBOX,  # an attempt that stopped at the sandbox, tried again
)


def job_failure(
    find: Callable[[Job], Resource | None], transition: Callable[..., None], error_state: Any
) -> Callable[[Job], None]:
    """An `on_failure` handler: the job's resource, if it is still there, moves to
    `error_state` with the job's error. One that moved on meanwhile (deleted, removing, set up
    again) stays as it is: the failure is no longer its news."""

    def failed(job: Job) -> None:
        resource = find(job)
        if resource is not None:
            with suppress(IllegalTransition):
                transition(resource, error_state, reason=job.error)

    return failed


@job_handler(
    JobType.WORKSPACE_INIT,
    on_failure=job_failure(job_workspace, workspace_transition, WorkspaceStatus.ERROR),
)
def workspace_init(job: Job) -> None:
    """A local folder is used in place (made a repository if asked); a git URL is cloned. The
    source is checked again first: the server's rules may have changed since it was added."""
    workspace = job_workspace(job)
    if workspace is None:
        return  # deleted meanwhile
    try:
        source = workspace_source_recheck(workspace)
        if source.folder is not None and workspace.source_type == SourceType.LOCAL:
            workspace_folder_init(workspace, source.folder)
            return
    except ApplicationError as error:
        raise JobFailed(error.message) from None  # trying again cannot help
    workspace_transition(workspace, WorkspaceStatus.CLONING)
    target = workspace_clone_dir(workspace)
    shutil.rmtree(target, ignore_errors=True)  # what an interrupted attempt left behind
    target.parent.mkdir(parents=True, exist_ok=True)
    # A repository on this disk is cloned from the folder that was checked, not from the path.
    url = str(source.folder) if source.folder is not None else workspace.path
    try:
        commit = git_provider().clone(
            url,
            target,
            token=workspace_clone_token(workspace),
            owner=workspace.project_id,
            progress=clone_progress(workspace),
        )
    except (pygit2.GitError, ValueError, KeyError) as error:
        shutil.rmtree(target, ignore_errors=True)
        raise RuntimeError(f"Could not clone {workspace.path}: {error}") from error
    workspace_transition(workspace, WorkspaceStatus.READY, commit=commit, work_dir=str(target))


def clone_progress(workspace: Workspace) -> CloneProgressReport:
    """Reports a clone's progress at most every CLONE_PROGRESS_SECONDS (libgit2 calls back for
    every few objects); a report that fails is logged, the clone goes on."""
    last = -math.inf

    def report(progress: CloneProgress) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < settings.CLONE_PROGRESS_SECONDS:
            return
        last = now
        try:
            workspace_progress_report(workspace, progress)
        except Exception:
            logger.warning("could not report the clone progress of %s", workspace.pk, exc_info=True)

    return report


def workspace_folder_init(workspace: Workspace, folder: Path) -> None:
    """The workspace works on `folder` itself, and on git only where `folder` is the root of its
    own repository (or is made one here): never on a repository around it."""
    git = git_provider()
    is_repository = folder_is_repository(folder)
    if not is_repository and workspace.init_git:
        git.init(folder, author=server_author())
        is_repository = True
    workspace_transition(
        workspace,
        WorkspaceStatus.READY,
        commit=git.head(folder) if is_repository else "",
        work_dir=str(folder) if is_repository else "",
    )


@job_handler(
    JobType.SESSION_INIT,
    on_failure=job_failure(job_session, session_transition, SessionStatus.ERROR),
)
def session_init(job: Job) -> None:
    """Waits for the workspace, gives the session its own working copy on its branch, then its
    sandbox: `creating_sandbox`, then `ready`. An engine that does not answer is tried again
    by the job's retries; a missing image or a refused provider fails the session at once."""
    session = job_session(job)
    if session is None or session.status not in SETTING_UP:
        return  # deleted, being removed, or set up by an earlier attempt
    workspace = session.workspace
    if workspace.status == WorkspaceStatus.ERROR:
        raise JobFailed(f"Workspace is not usable: {workspace.error_message}")
    if workspace.status != WorkspaceStatus.READY:
        raise JobDeferred("workspace not ready yet")
    if not workspace.commit:
        raise JobFailed("The workspace is not a git repository with a commit")
    target = session_dir(session)
    session_progress_report(session, "working_copy")
    if not (target / ".git").exists():
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        git_provider().working_copy(
            Path(workspace.work_dir),
            target,
            branch=session_branch(session),
            commit=workspace.commit,
        )
    if session.status != SessionStatus.CREATING_SANDBOX:
        session_transition(
            session,
            SessionStatus.CREATING_SANDBOX,
            workspace_path=str(target),
            workspace_commit=workspace.commit,
        )
    session_progress_report(session, "sandbox")
    try:
        session_sandbox_create(session)
    except SandboxUnavailable as error:
        raise RuntimeError(error.message) from None  # retried with the job's backoff
    except ApplicationError as error:
        raise JobFailed(error.message) from None
    session_transition(session, SessionStatus.READY)


@job_handler(JobType.SESSION_DELETE)
def session_delete(job: Job) -> None:
    session = job_session(job)
    if session is None:
        return
    # The sandbox, then the files: an attempt cut short after them finds the row and
    # finishes the job.
    session_sandbox_remove(session)
    shutil.rmtree(session_dir(session), ignore_errors=True)
    session_remove(session=session)


@job_handler(
    JobType.SESSION_COMMIT,
    on_failure=job_failure(job_session, session_commit_transition, CommitStatus.FAILED),
)
def session_commit(job: Job) -> None:
    """Commits the session's changes on its branch and replays them onto the workspace."""
    session = job_session(job)
    if session is None:
        return
    if not session.workspace_path:
        raise JobFailed("This session has no working copy yet")
    session_commit_transition(session, CommitStatus.COMMITTING)
    git = git_provider()
    workspace = session.workspace
    try:
        applied = git.apply_branch(
            Path(session.workspace_path),
            branch=session_branch(session),
            base=session.workspace_commit,
            target=Path(workspace.work_dir),
            author=server_author(),
            message=f"{session.display_name or session.name}\n\nDiscobot session {session.id}",
        )
    except (ConflictError, GitError) as error:
        raise JobFailed(error.message) from None
    session_tip = git.head(Path(session.workspace_path))
    with transaction.atomic():
        session_commit_transition(
            session,
            CommitStatus.COMPLETED,
            applied_commit=applied,
            # The working copy's changes up to here are in the workspace now.
            workspace_commit=session_tip,
        )
        workspace_transition(workspace, WorkspaceStatus.READY, commit=applied)
