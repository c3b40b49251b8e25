"""Folder completions for the web app's new-workspace dialog (web-app.md, `GET /suggestions`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.projects.api.base import ProjectScopedView
from apps.workspaces.selectors import path_suggestions
from discobot.api.fields import TextField
from discobot.api.schema import error_responses


class SuggestionsQuerySerializer(serializers.Serializer[Any]):
    q = TextField(
        required=False,
        allow_blank=True,
        default="",
        max_length=4096,
        help_text="What the user typed: an absolute path or one starting with `~`",
    )
    type = serializers.ChoiceField(
        choices=("path", "repo"),
        default="path",
        help_text="`repo` (repository URLs) has no completions on this server",
    )


class SuggestionSerializer(serializers.Serializer[Any]):
    value = serializers.CharField()
    type = serializers.CharField()
    valid = serializers.BooleanField(help_text="The folder holds `.git`")


class SuggestionsView(ProjectScopedView):
    @extend_schema(
        summary="Folders whose path starts with `q`, inside the folders this server may use "
        "(empty when SUGGESTIONS_ENABLED is off)",
        parameters=[SuggestionsQuerySerializer],
        responses={
            200: inline_serializer("Suggestions", {"suggestions": SuggestionSerializer(many=True)}),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request: Request, project_id: str) -> Response:
        query = SuggestionsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        if query.validated_data["type"] != "path":
            return Response({"suggestions": []})
        suggestions = path_suggestions(prefix=query.validated_data["q"])
        return Response({"suggestions": SuggestionSerializer(suggestions, many=True).data})
