from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.projects.api.base import ProjectScopedView
from apps.terminal.selectors import terminal_status
from apps.workspaces.selectors import session_get
from discobot.api.schema import error_responses


class TerminalStatusOutputSerializer(serializers.Serializer[Any]):
    status = serializers.CharField(
        help_text="unavailable, not_created, or the sandbox's state: created, running, stopped"
    )
    error = serializers.CharField(required=False)
    image = serializers.CharField(required=False)
    createdAt = serializers.DateTimeField(required=False)
    startedAt = serializers.DateTimeField(required=False)
    stoppedAt = serializers.DateTimeField(required=False)


class TerminalStatusView(ProjectScopedView):
    @extend_schema(
        summary="The state of the sandbox the session's terminal runs in",
        responses={200: TerminalStatusOutputSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        session = session_get(project=self.project, session_id=session_id)
        status = terminal_status(session=session)
        return Response(TerminalStatusOutputSerializer(status).data)
