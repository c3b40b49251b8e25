"""The terminal's legacy project-level calls (contract §5, "Era A mock and api.md stubs"), which
the web app still ships: one command run in a session's sandbox, and that session's history.
There is no project-level sandbox, so both name their session."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.projects.api.base import ProjectScopedView
from apps.terminal.api.history_views import HISTORY_LIMIT_MAX
from apps.terminal.selectors import terminal_history_list
from apps.terminal.services import (
    EXECUTE_OUTPUT_MAX_BYTES,
    EXECUTE_TIMEOUT_SECONDS,
    terminal_execute,
)
from apps.workspaces.selectors import session_get
from discobot.api.fields import NOT_BLANK, TextField
from discobot.api.requests import AuthenticatedRequest
from discobot.api.schema import error_responses
from discobot.api.serializers import StrictSerializer

SESSION_ID_PATTERN = "^[A-Za-z0-9-]{1,65}$"


class ExecuteInputSerializer(StrictSerializer):
    command = TextField(
        pattern=NOT_BLANK,
        max_length=65536,
        help_text=f"Run with bash in the session's working copy, for at most "
        f"{EXECUTE_TIMEOUT_SECONDS} s",
    )
    sessionId = TextField(
        pattern=SESSION_ID_PATTERN,
        message="Invalid session id",
        help_text="The session whose sandbox runs it (required: there is no project sandbox)",
    )


class ExecuteOutputSerializer(serializers.Serializer[Any]):
    output = serializers.CharField(
        help_text=f"stdout and stderr as printed, cut past {EXECUTE_OUTPUT_MAX_BYTES} bytes, "
        "the project's secrets masked"
    )
    exitCode = serializers.IntegerField(help_text="124 when the command timed out")


class LegacyHistoryQuerySerializer(serializers.Serializer[Any]):
    sessionId = TextField(pattern=SESSION_ID_PATTERN, message="Invalid session id")
    limit = serializers.IntegerField(min_value=1, max_value=HISTORY_LIMIT_MAX, default=100)


class LegacyHistoryEntrySerializer(serializers.Serializer[Any]):
    type = serializers.CharField(source="entry_type", help_text="input or output")
    content = serializers.CharField()


class TerminalExecuteView(ProjectScopedView):
    @extend_schema(
        summary="Run one command in a session's sandbox (legacy; the terminal WebSocket is the "
        "interactive way)",
        request=ExecuteInputSerializer,
        responses={200: ExecuteOutputSerializer, **error_responses(400, 401, 404, 409)},
    )
    def post(self, request: AuthenticatedRequest, project_id: str) -> Response:
        body = ExecuteInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session = session_get(project=self.project, session_id=body.validated_data["sessionId"])
        result = terminal_execute(
            session=session, user=request.user, command=body.validated_data["command"]
        )
        return Response({"output": result.output, "exitCode": result.exit_code})


class LegacyTerminalHistoryView(ProjectScopedView):
    @extend_schema(
        summary="A session's terminal history, oldest first (legacy shape)",
        parameters=[LegacyHistoryQuerySerializer],
        responses={
            200: inline_serializer(
                "LegacyTerminalHistory", {"history": LegacyHistoryEntrySerializer(many=True)}
            ),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request: Request, project_id: str) -> Response:
        query = LegacyHistoryQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        session = session_get(project=self.project, session_id=query.validated_data["sessionId"])
        lines = terminal_history_list(session=session, limit=query.validated_data["limit"])
        return Response({"history": LegacyHistoryEntrySerializer(lines, many=True).data})
