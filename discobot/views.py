"""Server-wide endpoints: health, system status, the web app and the JSON fallbacks for errors."""

from __future__ import annotations

import shutil
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.static import serve
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularSwaggerView
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.sandbox.selectors import sandbox_status_messages
from discobot import readiness
from discobot.metrics import metrics_allowed

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
    """Liveness: the process answers. It asks no dependency, so that an outage of the database
    does not make an orchestrator restart every server; /readyz reports the dependencies."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when every dependency answers (the database, Redis when configured, and
    what the apps registered, such as a job worker), otherwise 503; each check says what it
    found."""
    checks = readiness.checks_run()
    ready = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "error", "checks": checks}, status=200 if ready else 503
    )


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format; with auth on only for the bearer of METRICS_TOKEN."""
    allowed = metrics_allowed(request)
    if allowed is None:
        raise Http404
    if not allowed:
        response = JsonResponse({"error": "Invalid or missing metrics token"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


STATUS_MESSAGE_FIELDS: dict[str, serializers.Field[Any, Any, Any, Any]] = {
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
        messages += sandbox_status_messages()
        ok = not any(message["level"] == "error" for message in messages)
        return Response({"ok": ok, "messages": messages})


# The web app's build (Vite) puts only files named by their content's hash in this folder: a
# new build has new names, so a browser may keep these for good.
WEB_APP_ASSETS = "assets/"
IMMUTABLE = "public, max-age=31536000, immutable"


# Exempt, as api_not_found: without a web app every path here is that 404.
@csrf_exempt
def web_app(request: HttpRequest, path: str) -> HttpResponseBase:
    """The built web app (SPA_DIST_DIR) at `/`: its files, and its index.html for every other
    path, which the app routes in the browser. Everything but the hashed assets is revalidated
    at each load, so a new build is seen at once. `serve` refuses paths out of the folder (400)."""
    if settings.SPA_DIST_DIR is None or request.method not in ("GET", "HEAD"):
        raise Http404
    root = str(settings.SPA_DIST_DIR)
    if path.startswith(WEB_APP_ASSETS):
        # A missing asset is a 404, never the index: a script must not load as HTML.
        response = serve(request, path, document_root=root)
        response["Cache-Control"] = IMMUTABLE
        return response
    try:
        response = serve(request, path or "index.html", document_root=root)
    except Http404:
        response = serve(request, "index.html", document_root=root)
    response["Cache-Control"] = "no-cache"
    return response


# Exempt: a POST to a path that does not exist is a 404, not a CSRF refusal of nothing.
@csrf_exempt
def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"error": "Not found"}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"error": "Internal server error"}, status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    # Never ask `request` for its host here: DisallowedHost is raised by asking.
    message = "Invalid Host header" if isinstance(exception, DisallowedHost) else "Bad request"
    return JsonResponse({"error": message}, status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"error": "Forbidden"}, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    """CSRF_FAILURE_VIEW, worded like DRF's own CSRF refusal."""
    return JsonResponse({"error": f"CSRF Failed: {reason}"}, status=403)


class ApiDocsView(SpectacularSwaggerView):
    """The Swagger UI page; its errors (a missing login) are JSON like every /api answer."""

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
