"""A project's limits: what its turns (and each member's) may use, and how much is used."""

from __future__ import annotations

from typing import cast

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.limits.api.serializers import LIMIT_OUTPUT, LimitsInputSerializer
from apps.limits.selectors import project_limits_described
from apps.limits.services import LimitSpec, limits_replace
from apps.projects.api.base import ProjectScopedView
from apps.projects.models import Role
from discobot.api.requests import AuthenticatedRequest
from discobot.api.schema import error_responses

LIMITS = inline_serializer(
    "ProjectLimits", {"limits": inline_serializer("ProjectLimit", LIMIT_OUTPUT, many=True)}
)


class LimitsView(ProjectScopedView):
    required_roles = {"PUT": Role.ADMIN}

    def _limits(self, request: Request) -> Response:
        user = cast(AuthenticatedRequest, request).user
        limits = project_limits_described(
            project_id=self.project.pk,
            user_id=user.pk,
            all_members=self.membership.has_role(Role.ADMIN),
        )
        return Response({"limits": limits})

    @extend_schema(
        summary="The project's limits with what is used of each; a member sees the project's "
        "and their own",
        responses={200: LIMITS, **error_responses(401, 404)},
    )
    def get(self, request: Request, project_id: str) -> Response:
        return self._limits(request)

    @extend_schema(
        summary="Replace the project's limits (owners and admins)",
        request=LimitsInputSerializer,
        responses={200: LIMITS, **error_responses(400, 401, 403, 404)},
    )
    def put(self, request: Request, project_id: str) -> Response:
        body = LimitsInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        specs = [
            LimitSpec(
                user_id=limit.get("userId"),
                metric=limit["metric"],
                window=limit["window"],
                amount=limit["amount"],
            )
            for limit in body.validated_data["limits"]
        ]
        limits_replace(project=self.project, specs=specs)
        return self._limits(request)
