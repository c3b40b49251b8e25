"""The membership check every `/api/projects/{projectId}/...` view stands on."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.projects.models import Project, ProjectMember, Role
from apps.projects.selectors import project_access
from discobot.api.requests import AuthenticatedRequest


# Resolves the caller's membership (`project_access`) before the handler runs, with the role
# the method needs (`required_roles`). (A comment, not a docstring: drf-spectacular would
# publish a docstring as every endpoint's description.)
class ProjectScopedView(APIView):
    required_roles: ClassVar[dict[str, Role]] = {}
    project: Project
    membership: ProjectMember

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authenticates, or raises 401
        # A method the route does not have is a 405 whatever the project (nothing to reveal).
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method or "")
        self.membership = project_access(
            user=cast(AuthenticatedRequest, request).user,
            project_id=kwargs["project_id"],
            role=self.required_roles.get(request.method or ""),
        )
        self.project = self.membership.project
