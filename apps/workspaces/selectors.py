from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from apps.agents.catalog import agent_type_providers
from apps.agents.models import Agent
from apps.core.models import Job
from apps.credentials.catalog import ModelInfo, project_models
from apps.credentials.models import Credential
from apps.credentials.services import credential_access_token
from apps.projects.models import Project
from apps.sandbox.provider import SandboxInfo, SandboxState, SandboxUnavailable
from apps.sandbox.selectors import provider_get
from apps.workspaces.models import Session, SessionAction, Workspace
from apps.workspaces.paths import inside_roots, server_folders, suggestion_roots
from discobot import db
from discobot.errors import NotFoundError

# The listing and the session the web app reads most often (discobot/db.py).
WORKSPACES_OF_PROJECT = (
    "SELECT * FROM workspaces_workspace WHERE project_id = %s ORDER BY created_at, id"
)
SESSION_OF_PROJECT = "SELECT * FROM workspaces_session WHERE project_id = %s AND id = %s"
WORKSPACE = "SELECT * FROM workspaces_workspace WHERE id = %s"


def workspace_list(*, project: Project) -> list[Workspace]:
    return db.rows(Workspace, WORKSPACES_OF_PROJECT, [project.pk])


def workspace_get(*, project: Project, workspace_id: str, with_sessions: bool = False) -> Workspace:
    workspaces = project.workspaces.all()
    if with_sessions:
        workspaces = workspaces.prefetch_related(
            Prefetch("sessions", queryset=Session.objects.order_by("created_at", "id"))
        )
    try:
        return workspaces.get(id=workspace_id)
    except Workspace.DoesNotExist:
        raise NotFoundError("Workspace not found") from None


def session_list(*, workspace: Workspace) -> QuerySet[Session]:
    return workspace.sessions.select_related("workspace").order_by("created_at", "id")


def session_get(*, project: Project, session_id: str) -> Session:
    session = db.row(Session, SESSION_OF_PROJECT, [project.pk, session_id])
    if session is None:
        raise NotFoundError("Session not found")
    workspace = db.row(Workspace, WORKSPACE, [db.value(Workspace, session.workspace_id)])
    if workspace is None:  # deleted meanwhile, with its sessions
        raise NotFoundError("Session not found")
    session.workspace = workspace
    return session


def agent_models(*, project: Project, agent: Agent | None) -> list[ModelInfo]:
    """The models the project's credentials drive for the agent's type (every credential's
    when there is no agent)."""
    providers = agent_type_providers(agent.agent_type) if agent is not None else None
    return project_models(project=project, providers=providers)


def session_models(*, session: Session) -> list[ModelInfo]:
    """Those of the session's agent, or of the project's default agent when it has none."""
    agent = session.agent or session.project.agents.filter(is_default=True).first()
    return agent_models(project=session.project, agent=agent)


def job_workspace(job: Job) -> Workspace | None:
    """The job's workspace, unless it was deleted meanwhile."""
    return Workspace.objects.filter(project_id=job.project_id, id=job.resource_id).first()


def job_session(job: Job) -> Session | None:
    """The job's session: its id is the client's, unique only within the job's project."""
    return (
        Session.objects.select_related("workspace")
        .filter(project_id=job.project_id, id=job.resource_id)
        .first()
    )


def workspace_clone_token(workspace: Workspace) -> str:
    """The project's `github` token, for private repositories on GitHub; never sent to another
    host, which any member could name to collect it."""
    url = urlsplit(workspace.path)
    if url.scheme != "https" or url.hostname != urlsplit(settings.GITHUB_URL).hostname:
        return ""
    credential = Credential.objects.filter(
        project_id=workspace.project_id, provider="github"
    ).first()
    return credential_access_token(credential=credential) if credential else ""


def session_sandbox_status(session: Session) -> SandboxInfo | None:
    """What the session's provider says of its sandbox (contract §5, terminal/status); None
    when there is none (never made, or removed). SandboxUnavailable, with the reason, when the
    provider cannot be asked now."""
    if not session.sandbox_provider:
        return None
    provider = provider_get(session.sandbox_provider)
    if provider is None:
        raise SandboxUnavailable(f"The {session.sandbox_provider} provider is not installed")
    try:
        provider.check()
        info = provider.status(str(session.uuid))
    except SandboxUnavailable:
        raise
    except Exception as error:  # an engine failing in any way: unavailable, never a 500
        raise SandboxUnavailable(f"The {provider.name} provider did not answer: {error}") from None
    return None if info.state == SandboxState.MISSING else info


def session_actions(
    *, session: Session, tool: str = "", limit: int, before: int | None = None
) -> tuple[list[SessionAction], int | None]:
    """A page of the session's audit trail, newest first, and the cursor of the next page
    (None on the last)."""
    actions = SessionAction.objects.filter(session=session).select_related("user")
    if tool:
        actions = actions.filter(tool=tool)
    if before is not None:
        actions = actions.filter(id__lt=before)
    page = list(actions.order_by("-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, page[-1].id if more else None


# --- Folder completions of the new-workspace dialog ---------------------------------------------

SUGGESTIONS_MAX = 50
# A folder is read only this far: a completion stays quick in a folder of a million entries.
SUGGESTIONS_SCAN_MAX = 5000


@dataclass(frozen=True)
class PathSuggestion:
    value: str
    valid: bool  # the folder holds `.git`
    type: str = "path"


def path_suggestions(*, prefix: str) -> list[PathSuggestion]:
    """Folders whose path starts with `prefix` (`~` expanded), from the folder it names up to
    its last `/`, never outside `suggestion_roots()` (symlinks resolved, `..` included): the
    roots themselves where the prefix leads to them. Hidden folders only when the typed name
    starts with `.`; at most SUGGESTIONS_MAX, by name. With auth on, the server's own folders
    are left out, as workspaces cannot use them."""
    roots = suggestion_roots()
    if not roots or "\x00" in prefix:
        return []
    typed = os.path.expanduser(prefix)
    towards_roots = [
        PathSuggestion(value=str(root), valid=holds_git(root))
        for root in roots
        if str(root).startswith(typed) and str(root) != typed.rstrip("/")
    ]
    if not os.path.isabs(typed):
        return towards_roots[:SUGGESTIONS_MAX]
    head, partial = (typed, "") if typed.endswith("/") else os.path.split(typed)
    parent = Path(os.path.normpath(head))
    real_parent = Path(os.path.realpath(parent))
    if not inside_roots(real_parent, roots) or server_owned(real_parent):
        return towards_roots[:SUGGESTIONS_MAX]
    found: list[PathSuggestion] = []
    for name in folder_names(real_parent, partial):
        real = Path(os.path.realpath(real_parent / name))
        if real.is_dir() and inside_roots(real, roots) and not server_owned(real):
            found.append(PathSuggestion(value=str(parent / name), valid=holds_git(real)))
            if len(found) == SUGGESTIONS_MAX:
                break
    return (towards_roots + found)[:SUGGESTIONS_MAX]


def folder_names(folder: Path, partial: str) -> list[str]:
    """The names in `folder` that start with `partial`, by name (a dot-name only when `partial`
    starts with one); none when the folder cannot be read."""
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for scanned, entry in enumerate(entries):
                if scanned == SUGGESTIONS_SCAN_MAX:
                    break
                hidden = entry.name.startswith(".") and not partial.startswith(".")
                if entry.name.startswith(partial) and not hidden:
                    names.append(entry.name)
    except OSError:
        return []
    return sorted(names)


def holds_git(folder: Path) -> bool:
    return os.path.lexists(folder / ".git")


def server_owned(folder: Path) -> bool:
    return settings.AUTH_ENABLED and inside_roots(folder, server_folders())
