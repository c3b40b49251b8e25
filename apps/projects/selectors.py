from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.projects.models import Project, ProjectMember, Role
from discobot import db
from discobot.errors import NotFoundError, PermissionDeniedError

# Every request into a project reads the caller's membership (discobot/db.py).
MEMBERSHIP = "SELECT * FROM projects_projectmember WHERE project_id = %s AND user_id = %s"
PROJECT = "SELECT * FROM projects_project WHERE id = %s"

ROLE_REQUIRED_MESSAGES = {
    Role.ADMIN: "Admin access required",
    Role.OWNER: "Owner access required",
}


def project_list(*, user: User) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user).order_by("created_at", "id")


def project_access(*, user: User, project_id: str, role: Role | None = None) -> ProjectMember:
    """The one access check of every entry point into a project (HTTP view, WebSocket, job).

    Returns the caller's membership. A project the caller is not a member of is reported as
    missing (404), so its existence is not confirmed; a member without `role` gets 403.
    """
    membership = db.row(ProjectMember, MEMBERSHIP, [project_id, db.value(User, user.pk)])
    project = db.row(Project, PROJECT, [project_id])
    if membership is None or project is None:
        raise NotFoundError("Project not found")
    membership.project = project
    if role is not None and not membership.has_role(role):
        raise PermissionDeniedError(ROLE_REQUIRED_MESSAGES[role])
    return membership


def member_list(*, project: Project) -> QuerySet[ProjectMember]:
    return project.memberships.select_related("user").order_by("created_at", "id")
