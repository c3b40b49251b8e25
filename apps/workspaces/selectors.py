from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.projects.models import Project
from apps.workspaces.models import Session, Workspace
from discobot.errors import NotFoundError


def workspace_list(*, project: Project) -> QuerySet[Workspace]:
    return project.workspaces.order_by("created_at", "id")


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
    try:
        return project.sessions.select_related("workspace").get(id=session_id)
    except Session.DoesNotExist:
        raise NotFoundError("Session not found") from None
