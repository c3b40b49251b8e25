"""Server-wide endpoints: health, system status and the JSON fallbacks for errors."""

from __future__ import annotations

import shutil

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# Tools the server shells out to; a missing one is a warning, as in the contract (§2 Health).
REQUIRED_TOOLS = (
    ("git", "git-not-found", "Git not found", "Install git: workspaces and commits need it."),
    (
        "docker",
        "docker-not-found",
        "Docker not found",
        "Install Docker to run sessions in containers; the local sandbox is used meanwhile.",
    ),
)


def health(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "error", "error": "Database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


STATUS_MESSAGE_FIELDS: dict[str, serializers.Field] = {
    "id": serializers.CharField(),
    "level": serializers.ChoiceField(choices=["warn", "error"]),
    "title": serializers.CharField(),
    "message": serializers.CharField(),
}


class SystemStatusView(APIView):
    @extend_schema(
        summary="Whether the server's host has what it needs",
        responses=inline_serializer(
            "SystemStatus",
            {
                "ok": serializers.BooleanField(),
                "messages": inline_serializer("StatusMessage", STATUS_MESSAGE_FIELDS, many=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        messages = [
            {"id": message_id, "level": "warn", "title": title, "message": message}
            for tool, message_id, title, message in REQUIRED_TOOLS
            if shutil.which(tool) is None
        ]
        ok = not any(message["level"] == "error" for message in messages)
        return Response({"ok": ok, "messages": messages})


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"error": "Not found"}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"error": "Internal server error"}, status=500)


class ApiDocsView(SpectacularSwaggerView):
    """The Swagger UI page; its errors (a missing login) are JSON like every /api answer."""

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
