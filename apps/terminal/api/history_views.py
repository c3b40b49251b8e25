"""A session's terminal history (contract §5): its latest lines, or those holding some text."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.projects.api.base import ProjectScopedView
from apps.terminal.selectors import terminal_history_list
from apps.workspaces.selectors import session_get
from discobot.api.schema import error_responses

HISTORY_LIMIT_MAX = 1000


class HistoryQuerySerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(min_value=1, max_value=HISTORY_LIMIT_MAX, default=100)
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        trim_whitespace=False,
        help_text="Only the lines holding this text (any case)",
    )


# The contract's rows are snake_case (§5).
class TerminalHistorySerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    session_id = serializers.CharField(source="session.id")
    entry_type = serializers.CharField()
    content = serializers.CharField()
    exit_code = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class TerminalHistoryView(ProjectScopedView):
    @extend_schema(
        summary="The session's terminal transcript: its latest lines, oldest first, or with `q` "
        "its latest lines holding that text",
        parameters=[HistoryQuerySerializer],
        responses={
            200: inline_serializer(
                "TerminalHistoryList", {"history": TerminalHistorySerializer(many=True)}
            ),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        session = session_get(project=self.project, session_id=session_id)
        query = HistoryQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        lines = terminal_history_list(
            session=session,
            limit=query.validated_data["limit"],
            query=query.validated_data.get("q", ""),
        )
        return Response({"history": TerminalHistorySerializer(lines, many=True).data})
