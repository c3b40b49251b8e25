"""Search across the project's transcripts: chat messages, terminal lines, tool calls."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.projects.api.base import ProjectScopedView
from apps.search.selectors import CURSOR_PATTERN, SearchKind, project_search
from discobot.api.fields import NOT_BLANK, TextField
from discobot.api.schema import error_responses

SEARCH_LIMIT_MAX = 100
KINDS = "(?:chat|terminal|actions)"


class SearchQuerySerializer(serializers.Serializer[Any]):
    q = TextField(
        pattern=NOT_BLANK,
        max_length=200,
        help_text="The words to find. On PostgreSQL a web search query (stemmed words, "
        '"quoted phrases", `-excluded`, `or`); on SQLite every word, in any case',
    )
    kind = TextField(
        required=False,
        pattern=f"^{KINDS}(?:,{KINDS})*$",
        message="Must be chat, terminal or actions, or several of them separated by commas.",
        help_text="Only these kinds (comma-separated); every kind when absent",
    )
    limit = serializers.IntegerField(min_value=1, max_value=SEARCH_LIMIT_MAX, default=20)
    before = TextField(
        required=False,
        pattern=CURSOR_PATTERN,
        message="Invalid cursor: pass the `next` of the previous page.",
        help_text="The `next` cursor of the previous page",
    )


class TranscriptSearchHitSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=[kind.value for kind in SearchKind])
    sessionId = serializers.CharField(source="session_id")
    sessionName = serializers.CharField(source="session_name")
    createdAt = serializers.DateTimeField(source="created_at")
    messageId = serializers.CharField(
        source="message_id",
        allow_null=True,
        help_text="chat: the message's id; actions: the assistant message of the turn",
    )
    line = serializers.IntegerField(
        allow_null=True, help_text="terminal: the line's number in the session's transcript"
    )
    actionId = serializers.IntegerField(source="action_id", allow_null=True)
    excerpt = serializers.CharField(
        help_text="HTML: the text around the words found, each in <mark>…</mark>, everything "
        "else escaped"
    )


class ProjectSearchView(ProjectScopedView):
    @extend_schema(
        summary="The project's chat messages, terminal lines and tool calls holding some words, "
        "newest first",
        parameters=[SearchQuerySerializer],
        responses={
            200: inline_serializer(
                "TranscriptSearchResults",
                {
                    "hits": TranscriptSearchHitSerializer(many=True),
                    "next": serializers.CharField(
                        allow_null=True, help_text="`before` for the next page (null: the last)"
                    ),
                },
            ),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request: Request, project_id: str) -> Response:
        query = SearchQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        kinds = query.validated_data.get("kind", "")
        hits, cursor = project_search(
            project=self.project,
            text=query.validated_data["q"],
            kinds={SearchKind(kind) for kind in kinds.split(",") if kind},
            limit=query.validated_data["limit"],
            before=query.validated_data.get("before", ""),
        )
        return Response(
            {"hits": TranscriptSearchHitSerializer(hits, many=True).data, "next": cursor}
        )
