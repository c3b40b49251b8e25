from __future__ import annotations

from typing import Any, cast

from django.http import HttpResponseRedirect, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.streams import EventStreamRenderer
from apps.projects.api.base import ProjectScopedView
from apps.services import selectors, services
from apps.services.output import service_output
from apps.services.preview import preview_link
from apps.workspaces.selectors import session_get
from discobot.api.requests import AuthenticatedRequest
from discobot.api.schema import error_responses


class ServiceSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="definition.id")
    name = serializers.CharField(source="definition.name")
    description = serializers.CharField(source="definition.description", required=False)
    http = serializers.IntegerField(source="definition.http", required=False)
    https = serializers.IntegerField(source="definition.https", required=False)
    path = serializers.CharField(source="definition.path")
    urlPath = serializers.CharField(source="definition.url_path", required=False)
    status = serializers.CharField(help_text="stopped, starting, running or error")
    passive = serializers.BooleanField(source="definition.passive", required=False)
    pid = serializers.IntegerField(required=False)
    startedAt = serializers.DateTimeField(source="started_at", required=False)
    exitCode = serializers.IntegerField(source="exit_code", required=False)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # Optional fields are left out rather than null, as the agent API did.
        shown = super().to_representation(instance)
        return {key: value for key, value in shown.items() if value not in (None, False)}


class ServiceListOutputSerializer(serializers.Serializer[Any]):
    services = ServiceSerializer(many=True)


class ServiceActionOutputSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
    serviceId = serializers.CharField()


class ServiceListView(ProjectScopedView):
    @extend_schema(
        summary="The session's services (.discobot/services) and how each one runs",
        responses={200: ServiceListOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        session = session_get(project=self.project, session_id=session_id)
        services.service_runs_settle(session=session)
        states = selectors.service_states(session=session)
        return Response(ServiceListOutputSerializer({"services": states}).data)


class ServiceStartView(ProjectScopedView):
    @extend_schema(
        summary="Start a service in the session's sandbox (409 while it runs)",
        request=None,
        responses={202: ServiceActionOutputSerializer, **error_responses(400, 401, 404, 409)},
    )
    def post(self, request: Request, project_id: str, session_id: str, service_id: str) -> Response:
        session = session_get(project=self.project, session_id=session_id)
        user = cast(AuthenticatedRequest, request).user
        services.service_start(session=session, service_id=service_id, user=user)
        body = {"status": "starting", "serviceId": service_id}
        return Response(ServiceActionOutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class ServiceStopView(ProjectScopedView):
    @extend_schema(
        summary="Stop a service (its whole process group)",
        request=None,
        responses={200: ServiceActionOutputSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request: Request, project_id: str, session_id: str, service_id: str) -> Response:
        session = session_get(project=self.project, session_id=session_id)
        services.service_stop(session=session, service_id=service_id)
        body = {"status": "stopped", "serviceId": service_id}
        return Response(ServiceActionOutputSerializer(body).data)


class ServiceOutputView(ProjectScopedView):
    renderer_classes = (JSONRenderer, EventStreamRenderer)

    @extend_schema(
        summary="The current run's output (text/event-stream), from its start, until it exits",
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                str, description="`data: {type: stdout|stderr|exit, data?, exitCode?, timestamp}`"
            ),
            **error_responses(400, 401, 404),
        },
    )
    def get(
        self, request: Request, project_id: str, session_id: str, service_id: str
    ) -> StreamingHttpResponse:
        session = session_get(project=self.project, session_id=session_id)
        selectors.service_runnable_get(session=session, service_id=service_id)
        response = StreamingHttpResponse(
            service_output(session, service_id), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


class ServicePreviewView(ProjectScopedView):
    @extend_schema(
        summary="Open the service's live preview: a redirect to its preview host with a "
        "short-lived signed link that gives the caller that host's preview cookie",
        parameters=[
            OpenApiParameter("next", str, description="A path on the preview host (default /)")
        ],
        responses={302: None, **error_responses(400, 401, 404)},
    )
    def get(
        self, request: Request, project_id: str, session_id: str, service_id: str
    ) -> HttpResponseRedirect:
        session = session_get(project=self.project, session_id=session_id)
        link = preview_link(
            session=session,
            service_id=service_id,
            user=cast(AuthenticatedRequest, request).user,
            main_host=request.get_host(),
            scheme=request.scheme or "http",
            next_path=request.query_params.get("next", "/"),
        )
        return HttpResponseRedirect(link)
