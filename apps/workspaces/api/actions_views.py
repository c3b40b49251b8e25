"""A session's audit trail: the agent's tool calls and the terminals attached to it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.projects.api.base import ProjectScopedView
from apps.workspaces.selectors import session_actions, session_get
from discobot.api.schema import error_responses

ACTIONS_LIMIT_MAX = 200


class ActionsQuerySerializer(serializers.Serializer[Any]):
    tool = serializers.CharField(
        required=False, max_length=200, help_text="Only the calls of this tool (e.g. `Bash`)"
    )
    limit = serializers.IntegerField(min_value=1, max_value=ACTIONS_LIMIT_MAX, default=50)
    before = serializers.IntegerField(
        required=False, min_value=1, help_text="The `next` cursor of the previous page"
    )


class ActionUserSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    email = serializers.EmailField()


class SessionActionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    tool = serializers.CharField()
    input = serializers.CharField(help_text="The first 500 characters of the call's JSON input")
    exitCode = serializers.IntegerField(source="exit_code", allow_null=True)
    error = serializers.CharField()
    files = serializers.ListField(
        child=serializers.CharField(), help_text="Paths in the working copy the call changed"
    )
    durationMs = serializers.IntegerField(source="duration_ms", allow_null=True)
    provider = serializers.CharField(help_text="The provider of the credential that paid")
    user = ActionUserSerializer(allow_null=True)
    messageId = serializers.CharField(source="message_id")
    address = serializers.CharField(help_text="A terminal client's address")
    createdAt = serializers.DateTimeField(source="created_at")


class SessionActionsView(ProjectScopedView):
    @extend_schema(
        summary="The session's audit trail (tool calls, terminal attaches and detaches), "
        "newest first",
        parameters=[ActionsQuerySerializer],
        responses={
            200: inline_serializer(
                "SessionActions",
                {
                    "actions": SessionActionSerializer(many=True),
                    "next": serializers.IntegerField(allow_null=True),
                },
            ),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        session = session_get(project=self.project, session_id=session_id)
        query = ActionsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        actions, cursor = session_actions(
            session=session,
            tool=query.validated_data.get("tool", ""),
            limit=query.validated_data["limit"],
            before=query.validated_data.get("before"),
        )
        rendered = SessionActionSerializer(actions, many=True).data
        return Response({"actions": rendered, "next": cursor})
