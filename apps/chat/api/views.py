"""Chat (contract §4): POST /chat starts a turn and streams it; the turn runs in a worker, so
a client that leaves (or a server process that restarts) does not stop it, and any client can
follow it again with GET /chat/{sessionId}/stream."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.callers import caller_tokens
from apps.chat import selectors, services, uistream
from apps.chat.log import turn_stream
from apps.chat.models import ChatTurn
from apps.core.streams import EventStreamRenderer
from apps.projects.api.base import ProjectScopedView
from apps.workspaces.selectors import session_get
from discobot.api.requests import AuthenticatedRequest
from discobot.api.schema import error_responses
from discobot.api.serializers import ErrorSerializer
from discobot.errors import ApplicationError

STREAM = OpenApiResponse(str, description="The UI message stream v1 (`data: <json>` frames)")


def chat_stream_response(turn: ChatTurn) -> StreamingHttpResponse:
    response = StreamingHttpResponse(turn_stream(turn.pk), content_type="text/event-stream")
    for name, value in uistream.HEADERS.items():
        response[name] = value
    return response


def chat_request(request: Request) -> services.ChatRequest:
    """The body in the contract's order of checks (§4)."""
    try:
        body = request.data
    except ParseError:
        raise ApplicationError("Invalid request body") from None
    if not isinstance(body, dict):
        raise ApplicationError("Invalid request body")
    messages = body.get("messages")
    if not messages or not isinstance(messages, list):
        raise ApplicationError("messages array required")
    session_id = body.get("id")
    if not session_id or not isinstance(session_id, str):
        raise ApplicationError("id is required")
    optional: dict[str, Any] = {}
    for field, name in (("workspaceId", "workspace_id"), ("agentId", "agent_id")):
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            raise ApplicationError(f"{field} must be a string")
        optional[name] = value
    model = body.get("model") or ""
    trigger = body.get("trigger") or "submit-message"
    if not isinstance(model, str) or not isinstance(trigger, str):
        raise ApplicationError("model and trigger must be strings")
    return services.ChatRequest(
        session_id=session_id, messages=messages, trigger=trigger, model=model, **optional
    )


class ChatView(ProjectScopedView):
    renderer_classes = (JSONRenderer, EventStreamRenderer)

    @extend_schema(
        summary="Send a message (or regenerate the last answer) and stream the agent's answer",
        request=inline_serializer("ChatRequest", {"id": serializers.CharField()}),
        responses={
            (200, "text/event-stream"): STREAM,
            **error_responses(400, 401, 404, 409),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Over one of the project's limits (`limit` says which); "
                "Retry-After: seconds until its window resets",
            ),
        },
    )
    def post(self, request: Request, project_id: str) -> StreamingHttpResponse:
        body = chat_request(request)
        turn = services.chat_turn_begin(
            project=self.project,
            user=cast(AuthenticatedRequest, request).user,
            request=body,
            caller_tokens=caller_tokens(request=request._request),
        )
        return chat_stream_response(turn)


class ChatStreamView(ProjectScopedView):
    renderer_classes = (JSONRenderer, EventStreamRenderer)

    @extend_schema(
        summary="Follow the answer being generated: 204 when none is, else replay and live",
        responses={(200, "text/event-stream"): STREAM, 204: None, **error_responses(401, 404)},
    )
    def get(
        self, request: Request, project_id: str, session_id: str
    ) -> HttpResponse | StreamingHttpResponse:
        session = self.project.sessions.filter(id=session_id).first()
        turn = selectors.session_turn_active(session=session) if session is not None else None
        if turn is None:
            return HttpResponse(status=status.HTTP_204_NO_CONTENT)
        return chat_stream_response(turn)


class ChatCancelView(ProjectScopedView):
    @extend_schema(
        summary="Stop the answer being generated (its message is saved as it stands)",
        request=None,
        responses={
            200: inline_serializer("ChatCancel", {"cancelled": serializers.BooleanField()}),
            **error_responses(401, 404),
        },
    )
    def post(self, request: Request, project_id: str, session_id: str) -> Response:
        session = session_get(project=self.project, session_id=session_id)
        return Response({"cancelled": services.chat_turn_cancel(session=session)})


class SessionMessagesView(ProjectScopedView):
    @extend_schema(
        summary="A session's messages (AI SDK UIMessages), in order",
        responses={
            200: inline_serializer(
                "SessionMessages",
                {"messages": serializers.ListField(child=serializers.DictField())},
            ),
            **error_responses(401, 404),
        },
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        session = session_get(project=self.project, session_id=session_id)
        return Response({"messages": selectors.session_messages(session=session)})
