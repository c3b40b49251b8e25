"""Job handlers for workspaces and sessions (run by `manage.py worker`)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pygit2
from django.conf import settings
from django.db import transaction

from apps.core.jobs import JobDeferred, JobFailed, job_handler
from apps.core.models import Job
from apps.credentials.models import Credential
from apps.credentials.services import credential_access_token
from apps.gitops.provider import SESSION_BRANCH_PREFIX, Author, GitError, git_provider
from apps.projects.events import SessionUpdated
from apps.projects.services import project_event_record
from apps.workspaces.models import (
    CommitStatus,
    JobType,
    Session,
    SessionStatus,
    SourceType,
    Workspace,
    WorkspaceStatus,
)
from apps.workspaces.services import (
    folder_is_repository,
    session_status_set,
    workspace_clone_dir,
    workspace_source_recheck,
    workspace_status_set,
)
from discobot.errors import ApplicationError, ConflictError


def server_author() -> Author:
    return Author(settings.GIT_AUTHOR_NAME, settings.GIT_AUTHOR_EMAIL)


def session_dir(session: Session) -> Path:
    """The session's working copy: where it was made, else SESSIONS_DIR/<uuid>, apart from any
    other project's session of the same id and from a later session that reuses the id."""
    if session.workspace_path:
        return Path(session.workspace_path)
    return Path(settings.SESSIONS_DIR) / str(session.uuid)


def session_of(job: Job) -> Session | None:
    """The job's session: its id is the client's, unique only within the job's project."""
    return (
        Session.objects.select_related("workspace")
        .filter(project_id=job.project_id, id=job.resource_id)
        .first()
    )


def session_branch(session_id: str) -> str:
    return f"{SESSION_BRANCH_PREFIX}{session_id}"


def clone_token(workspace: Workspace) -> str:
    """The project's `github` token, for private repositories on GitHub; never sent to another
    host, which any member could name to collect it."""
    url = urlsplit(workspace.path)
    if url.scheme != "https" or url.hostname != urlsplit(settings.GITHUB_URL).hostname:
        return ""
    credential = Credential.objects.filter(
        project_id=workspace.project_id, provider="github"
    ).first()
    return credential_access_token(credential=credential) if credential else ""


def workspace_init_failed(job: Job) -> None:
    workspace = Workspace.objects.filter(id=job.resource_id).first()
    if workspace is not None:
        workspace_status_set(
            workspace=workspace, status=WorkspaceStatus.ERROR, error_message=job.error
        )


@job_handler(JobType.WORKSPACE_INIT, on_failure=workspace_init_failed)
def workspace_init(job: Job) -> None:
    """A local folder is used in place (made a repository if asked); a git URL is cloned. The
    source is checked again first: the server's rules may have changed since it was added."""
    workspace = Workspace.objects.filter(id=job.resource_id).first()
    if workspace is None:
        return  # deleted meanwhile
    try:
        source = workspace_source_recheck(workspace)
        if source.folder is not None and workspace.source_type == SourceType.LOCAL:
            workspace_folder_init(workspace, source.folder)
            return
    except ApplicationError as error:
        raise JobFailed(error.message) from None  # trying again cannot help
    workspace_status_set(workspace=workspace, status=WorkspaceStatus.CLONING)
    target = workspace_clone_dir(workspace)
    shutil.rmtree(target, ignore_errors=True)  # what an interrupted attempt left behind
    target.parent.mkdir(parents=True, exist_ok=True)
    # A repository on this disk is cloned from the folder that was checked, not from the path.
    url = str(source.folder) if source.folder is not None else workspace.path
    try:
        commit = git_provider().clone(
            url, target, token=clone_token(workspace), owner=workspace.project_id
        )
    except (pygit2.GitError, ValueError, KeyError) as error:
        shutil.rmtree(target, ignore_errors=True)
        raise RuntimeError(f"Could not clone {workspace.path}: {error}") from error
    workspace_status_set(
        workspace=workspace, status=WorkspaceStatus.READY, commit=commit, work_dir=str(target)
    )


def workspace_folder_init(workspace: Workspace, folder: Path) -> None:
    """The workspace works on `folder` itself, and on git only where `folder` is the root of its
    own repository (or is made one here): never on a repository around it."""
    git = git_provider()
    is_repository = folder_is_repository(folder)
    if not is_repository and workspace.init_git:
        git.init(folder, author=server_author())
        is_repository = True
    workspace_status_set(
        workspace=workspace,
        status=WorkspaceStatus.READY,
        commit=git.head(folder) if is_repository else "",
        work_dir=str(folder) if is_repository else "",
    )


def session_init_failed(job: Job) -> None:
    session = session_of(job)
    if session is not None:
        session_status_set(session=session, status=SessionStatus.ERROR, error_message=job.error)


@job_handler(JobType.SESSION_INIT, on_failure=session_init_failed)
def session_init(job: Job) -> None:
    """Waits for the workspace, then gives the session its own working copy on its branch."""
    session = session_of(job)
    if session is None or session.status == SessionStatus.REMOVING:
        return
    workspace = session.workspace
    if workspace.status == WorkspaceStatus.ERROR:
        raise JobFailed(f"Workspace is not usable: {workspace.error_message}")
    if workspace.status != WorkspaceStatus.READY:
        raise JobDeferred("workspace not ready yet")
    if not workspace.commit:
        raise JobFailed("The workspace is not a git repository with a commit")
    target = session_dir(session)
    if not (target / ".git").exists():
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        git_provider().working_copy(
            Path(workspace.work_dir),
            target,
            branch=session_branch(session.id),
            commit=workspace.commit,
        )
    session_status_set(
        session=session,
        status=SessionStatus.READY,
        error_message="",
        workspace_path=str(target),
        workspace_commit=workspace.commit,
    )


@job_handler(JobType.SESSION_DELETE)
def session_delete(job: Job) -> None:
    session = session_of(job)
    if session is None:
        return
    # The files first: an attempt cut short after them finds the row and finishes the job.
    shutil.rmtree(session_dir(session), ignore_errors=True)
    with transaction.atomic():
        session.delete()
        project_event_record(
            project_id=job.project_id,
            event=SessionUpdated(session_id=job.resource_id, status=SessionStatus.REMOVED),
        )


def session_commit_failed(job: Job) -> None:
    session = session_of(job)
    if session is not None:
        session_status_set(
            session=session, commit_status=CommitStatus.FAILED, commit_error=job.error
        )


@job_handler(JobType.SESSION_COMMIT, on_failure=session_commit_failed)
def session_commit(job: Job) -> None:
    """Commits the session's changes on its branch and replays them onto the workspace."""
    session = session_of(job)
    if session is None:
        return
    if not session.workspace_path:
        raise JobFailed("This session has no working copy yet")
    session_status_set(session=session, commit_status=CommitStatus.COMMITTING)
    git = git_provider()
    workspace = session.workspace
    try:
        applied = git.apply_branch(
            Path(session.workspace_path),
            branch=session_branch(session.id),
            base=session.workspace_commit,
            target=Path(workspace.work_dir),
            author=server_author(),
            message=f"{session.display_name or session.name}\n\nDiscobot session {session.id}",
        )
    except (ConflictError, GitError) as error:
        raise JobFailed(error.message) from None
    session_tip = git.head(Path(session.workspace_path))
    with transaction.atomic():
        session_status_set(
            session=session,
            commit_status=CommitStatus.COMPLETED,
            commit_error="",
            applied_commit=applied,
            # The working copy's changes up to here are in the workspace now.
            workspace_commit=session_tip,
        )
        workspace_status_set(workspace=workspace, status=WorkspaceStatus.READY, commit=applied)
