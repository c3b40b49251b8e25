"""What the project's agent turns used and cost: tokens and US dollars, grouped."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chat.selectors import UsageGroupBy, project_usage
from apps.projects.api.base import ProjectScopedView
from apps.projects.models import Role
from discobot.api.requests import AuthenticatedRequest
from discobot.api.schema import error_responses


class UsageQuerySerializer(serializers.Serializer[Any]):
    groupBy = serializers.ChoiceField(
        choices=[kind.value for kind in UsageGroupBy], default=UsageGroupBy.DAY.value
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # `from` is a Python keyword: no class attribute can carry the name.
        fields["from"] = serializers.DateField(
            required=False, help_text="The first day counted (ISO date), included"
        )
        fields["to"] = serializers.DateField(
            required=False, help_text="The last day counted (ISO date), included"
        )
        return fields


def usage_figures() -> dict[str, serializers.Field[Any, Any, Any, Any]]:
    return {
        "inputTokens": serializers.IntegerField(help_text="Cached tokens included"),
        "outputTokens": serializers.IntegerField(help_text="Reasoning tokens included"),
        "cachedTokens": serializers.IntegerField(),
        "reasoningTokens": serializers.IntegerField(),
        "cost": serializers.FloatField(help_text="US dollars; unpriced turns count 0"),
        "turns": serializers.IntegerField(),
    }


USAGE_GROUP = inline_serializer(
    "UsageGroup",
    {
        "key": serializers.CharField(
            allow_null=True,
            help_text="The user's id, the session's id, the model, or the day (null: a "
            "deleted user or session)",
        ),
        "label": serializers.CharField(help_text="The user's email, the session's name..."),
        **usage_figures(),
    },
    many=True,
)


class ProjectUsageView(ProjectScopedView):
    @extend_schema(
        summary="Tokens and cost of the project's agent turns, grouped by user, session, model "
        "or day; a member sees only their own turns",
        parameters=[UsageQuerySerializer],
        responses={
            200: inline_serializer(
                "ProjectUsage",
                {
                    "groups": USAGE_GROUP,
                    "totals": inline_serializer("UsageTotals", usage_figures()),
                },
            ),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request: Request, project_id: str) -> Response:
        query = UsageQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        sees_all = self.membership.has_role(Role.ADMIN)
        usage = project_usage(
            project=self.project,
            user=None if sees_all else cast(AuthenticatedRequest, request).user,
            group_by=UsageGroupBy(query.validated_data["groupBy"]),
            since=query.validated_data.get("from"),
            until=query.validated_data.get("to"),
        )
        return Response(usage)
