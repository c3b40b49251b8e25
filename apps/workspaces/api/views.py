from __future__ import annotations

from drf_spectacular.utils import (
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.projects.api.base import ProjectScopedView
from apps.sandbox.selectors import providers_available
from apps.workspaces import sandboxes, selectors, services
from apps.workspaces.api import schema  # noqa: F401 (registers the schema extensions)
from apps.workspaces.api.serializers import (
    SessionCreateSerializer,
    SessionOutputSerializer,
    SessionUpdateSerializer,
    WorkspaceCreateSerializer,
    WorkspaceDeleteQuerySerializer,
    WorkspaceOutputSerializer,
    WorkspaceUpdateSerializer,
)
from discobot.api.requests import AuthenticatedRequest
from discobot.api.schema import error_responses
from discobot.api.serializers import SuccessSerializer

ERRORS = error_responses(400, 401, 404)
CONFLICT = error_responses(409)


class WorkspaceListView(ProjectScopedView):
    @extend_schema(
        summary="List workspaces (their `sessions` arrays are empty)",
        operation_id="workspaces_list",
        responses={
            200: inline_serializer(
                "WorkspaceList", {"workspaces": WorkspaceOutputSerializer(many=True)}
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str) -> Response:
        workspaces = selectors.workspace_list(project=self.project)
        return Response({"workspaces": WorkspaceOutputSerializer(workspaces, many=True).data})

    @extend_schema(
        summary="Add a workspace; it is prepared (or cloned) in the background",
        request=WorkspaceCreateSerializer,
        responses={201: WorkspaceOutputSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request: AuthenticatedRequest, project_id: str) -> Response:
        body = WorkspaceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        workspace = services.workspace_create(
            project=self.project, user=request.user, **body.validated_data
        )
        return Response(WorkspaceOutputSerializer(workspace).data, status=status.HTTP_201_CREATED)


class WorkspaceProvidersView(ProjectScopedView):
    @extend_schema(
        summary="Sandbox providers this server offers",
        responses=inline_serializer(
            "WorkspaceProviders",
            {"providers": serializers.ListField(child=serializers.CharField())},
        ),
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response({"providers": providers_available()})


class WorkspaceDetailView(ProjectScopedView):
    @extend_schema(
        summary="A workspace with its sessions",
        responses={200: WorkspaceOutputSerializer, **ERRORS},
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        workspace = selectors.workspace_get(
            project=self.project, workspace_id=workspace_id, with_sessions=True
        )
        output = WorkspaceOutputSerializer(workspace, context={"with_sessions": True})
        return Response(output.data)

    @extend_schema(
        summary=(
            "Change a workspace (fields present change; `displayName: null` clears it; "
            "a new path is prepared again)"
        ),
        request=WorkspaceUpdateSerializer,
        responses={200: WorkspaceOutputSerializer, **ERRORS, **CONFLICT},
    )
    def put(self, request: AuthenticatedRequest, project_id: str, workspace_id: str) -> Response:
        workspace = selectors.workspace_get(project=self.project, workspace_id=workspace_id)
        body = WorkspaceUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        workspace = services.workspace_update(
            workspace=workspace, user=request.user, changes=body.validated_data
        )
        return Response(WorkspaceOutputSerializer(workspace).data)

    @extend_schema(
        summary="Delete a workspace and its sessions",
        parameters=[WorkspaceDeleteQuerySerializer],
        responses={200: SuccessSerializer, **ERRORS},
    )
    def delete(self, request: Request, project_id: str, workspace_id: str) -> Response:
        workspace = selectors.workspace_get(project=self.project, workspace_id=workspace_id)
        query = WorkspaceDeleteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        services.workspace_delete(
            workspace=workspace, delete_files=query.validated_data["delete_files"]
        )
        return Response({"success": True})


class WorkspaceSessionsView(ProjectScopedView):
    @extend_schema(
        summary="The sessions of a workspace",
        responses={
            200: inline_serializer("SessionList", {"sessions": SessionOutputSerializer(many=True)}),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str, workspace_id: str) -> Response:
        workspace = selectors.workspace_get(project=self.project, workspace_id=workspace_id)
        sessions = selectors.session_list(workspace=workspace)
        return Response({"sessions": SessionOutputSerializer(sessions, many=True).data})


class SessionCreateView(ProjectScopedView):
    @extend_schema(
        summary="Create a session with a client-chosen id; its sandbox is prepared later",
        request=SessionCreateSerializer,
        responses={201: SessionOutputSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request: Request, project_id: str) -> Response:
        body = SessionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        session = services.session_create(
            project=self.project,
            session_id=data["id"],
            workspace_id=str(data["workspace_id"]),
            agent_id=str(data["agent_id"]) if data.get("agent_id") else None,
            name=data.get("name", ""),
            model=data.get("model", ""),
        )
        return Response(SessionOutputSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionDetailView(ProjectScopedView):
    @extend_schema(summary="A session", responses={200: SessionOutputSerializer, **ERRORS})
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        session = selectors.session_get(project=self.project, session_id=session_id)
        return Response(SessionOutputSerializer(session).data)

    @extend_schema(
        summary="Rename a session or change its status where allowed",
        request=SessionUpdateSerializer,
        responses={200: SessionOutputSerializer, **ERRORS, **CONFLICT},
    )
    def put(self, request: Request, project_id: str, session_id: str) -> Response:
        session = selectors.session_get(project=self.project, session_id=session_id)
        body = SessionUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session = sandboxes.session_change(session=session, changes=body.validated_data)
        return Response(SessionOutputSerializer(session).data)

    patch = put

    @extend_schema(
        summary="Delete a session (status `removing`, then gone)",
        responses={200: SuccessSerializer, **ERRORS},
    )
    def delete(self, request: Request, project_id: str, session_id: str) -> Response:
        session = selectors.session_get(project=self.project, session_id=session_id)
        services.session_delete(session=session)
        return Response({"success": True})


class SessionCommitView(ProjectScopedView):
    @extend_schema(
        summary="Commit the session's changes onto its workspace (in the background)",
        request=None,
        responses={200: SuccessSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request: Request, project_id: str, session_id: str) -> Response:
        session = selectors.session_get(project=self.project, session_id=session_id)
        services.session_commit_request(session=session)
        return Response({"success": True})
