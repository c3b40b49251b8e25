"""The membership check every `/api/projects/{projectId}/...` view stands on."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.projects.models import Project, ProjectMember, Role
from apps.projects.selectors import membership_get
from discobot.api.requests import AuthenticatedRequest
from discobot.errors import PermissionDeniedError

ROLE_REQUIRED_MESSAGES = {
    Role.ADMIN: "Admin access required",
    Role.OWNER: "Owner access required",
}


# Resolves the caller's membership before the handler runs. A project the caller is not a
# member of answers 404, so its existence is not confirmed; a member without the role a method
# needs (`required_roles`) gets 403. (A comment, not a docstring: drf-spectacular would publish
# a docstring as every endpoint's description.)
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
        user = cast(AuthenticatedRequest, request).user
        self.membership = membership_get(user=user, project_id=kwargs["project_id"])
        self.project = self.membership.project
        required = self.required_roles.get(request.method or "")
        if required is not None and not self.membership.has_role(required):
            raise PermissionDeniedError(ROLE_REQUIRED_MESSAGES[required])
