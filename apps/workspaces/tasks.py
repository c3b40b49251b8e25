"""Job handlers for workspaces and sessions (run by `manage.py worker`)."""

from __future__ import annotations

import shutil

import pygit2
from django.db import transaction

from apps.projects.jobs import JobDeferred, JobFailed, job_handler
from apps.projects.models import Job, JobType
from apps.projects.services import project_event_record
from apps.workspaces.models import (
    CommitStatus,
    Session,
    SessionStatus,
    SourceType,
    Workspace,
    WorkspaceStatus,
)
from apps.workspaces.services import (
    local_path_check,
    session_status_set,
    workspace_clone_dir,
    workspace_status_set,
)


def head_commit(path: str) -> str:
    """The commit checked out in the repository containing `path`, or "" for a plain folder."""
    discovered = pygit2.discover_repository(path)
    if discovered is None:
        return ""
    repository = pygit2.Repository(discovered)
    return "" if repository.head_is_unborn else str(repository.head.target)


def workspace_init_failed(job: Job) -> None:
    workspace = Workspace.objects.filter(id=job.resource_id).first()
    if workspace is not None:
        workspace_status_set(
            workspace=workspace, status=WorkspaceStatus.ERROR, error_message=job.error
        )


@job_handler(JobType.WORKSPACE_INIT, on_failure=workspace_init_failed)
def workspace_init(job: Job) -> None:
    """A local folder is checked and used in place; a git URL is cloned under WORKSPACE_DIR."""
    workspace = Workspace.objects.filter(id=job.resource_id).first()
    if workspace is None:
        return  # deleted meanwhile
    if workspace.source_type == SourceType.LOCAL:
        path = local_path_check(workspace.path)
        workspace_status_set(
            workspace=workspace,
            status=WorkspaceStatus.READY,
            commit=head_commit(path),
            work_dir=path,
        )
        return
    workspace_status_set(workspace=workspace, status=WorkspaceStatus.CLONING)
    target = workspace_clone_dir(workspace)
    shutil.rmtree(target, ignore_errors=True)  # what an interrupted attempt left behind
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        repository = pygit2.clone_repository(workspace.path, str(target))
    except (pygit2.GitError, ValueError) as error:
        shutil.rmtree(target, ignore_errors=True)
        raise RuntimeError(f"Could not clone {workspace.path}: {error}") from error
    commit = "" if repository.head_is_unborn else str(repository.head.target)
    workspace_status_set(
        workspace=workspace, status=WorkspaceStatus.READY, commit=commit, work_dir=str(target)
    )


def session_init_failed(job: Job) -> None:
    session = Session.objects.filter(id=job.resource_id).first()
    if session is not None:
        session_status_set(session=session, status=SessionStatus.ERROR, error_message=job.error)


@job_handler(JobType.SESSION_INIT, on_failure=session_init_failed)
def session_init(job: Job) -> None:
    """Waits for the workspace, then makes the session ready on it."""
    session = Session.objects.select_related("workspace").filter(id=job.resource_id).first()
    if session is None or session.status == SessionStatus.REMOVING:
        return
    workspace = session.workspace
    if workspace.status == WorkspaceStatus.ERROR:
        raise RuntimeError(f"Workspace is not usable: {workspace.error_message}")
    if workspace.status != WorkspaceStatus.READY:
        raise JobDeferred("workspace not ready yet")
    session_status_set(
        session=session,
        status=SessionStatus.READY,
        error_message="",
        workspace_path=workspace.work_dir,
        workspace_commit=workspace.commit,
    )


@job_handler(JobType.SESSION_DELETE)
def session_delete(job: Job) -> None:
    with transaction.atomic():
        deleted, _ = Session.objects.filter(id=job.resource_id).delete()
        if deleted:
            project_event_record(
                project_id=job.project_id,
                type="session_updated",
                data={"sessionId": job.resource_id, "status": SessionStatus.REMOVED},
            )


def session_commit_failed(job: Job) -> None:
    session = Session.objects.filter(id=job.resource_id).first()
    if session is not None:
        session_status_set(
            session=session, commit_status=CommitStatus.FAILED, commit_error=job.error
        )


@job_handler(JobType.SESSION_COMMIT, on_failure=session_commit_failed)
def session_commit(job: Job) -> None:
    session = Session.objects.filter(id=job.resource_id).first()
    if session is None:
        return
    session_status_set(session=session, commit_status=CommitStatus.COMMITTING)
    # Sessions get their own working copy with the git issue; until then there is nothing
    # to apply, and saying so beats reporting a commit that did not happen.
    raise JobFailed("This session has no working copy to commit from yet")
