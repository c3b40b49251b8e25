from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.projects.models import Project, ProjectMember
from discobot.errors import NotFoundError


def project_list(*, user: User) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user).order_by("created_at", "id")


def membership_get(*, user: User, project_id: str) -> ProjectMember:
    """The caller's membership of a project; a project it may not see is reported as missing."""
    try:
        return ProjectMember.objects.select_related("project").get(project_id=project_id, user=user)
    except ProjectMember.DoesNotExist:
        raise NotFoundError("Project not found") from None


def member_list(*, project: Project) -> QuerySet[ProjectMember]:
    return project.memberships.select_related("user").order_by("created_at", "id")
