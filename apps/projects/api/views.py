from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.api.listing import audit_answer
from apps.audit.api.serializers import AuditPageSerializer, AuditQuerySerializer
from apps.projects import selectors, services
from apps.projects.api.base import ProjectScopedView
from apps.projects.api.serializers import (
    InvitationAcceptSerializer,
    InvitationInputSerializer,
    InvitationOutputSerializer,
    MemberOutputSerializer,
    ProjectInputSerializer,
    ProjectOutputSerializer,
)
from apps.projects.models import Role
from discobot.api.requests import AuthenticatedRequest
from discobot.api.schema import error_responses
from discobot.api.serializers import ErrorSerializer, SuccessSerializer

ERRORS = error_responses(400, 401, 404)
ROLE_ERRORS = error_responses(400, 401, 403, 404)


class ProjectListView(APIView):
    @extend_schema(
        summary="List the caller's projects",
        responses={200: ProjectOutputSerializer(many=True), 401: ERRORS[401]},
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        projects = selectors.project_list(user=request.user)
        return Response(ProjectOutputSerializer(projects, many=True).data)

    @extend_schema(
        summary="Create a project (the caller becomes its owner)",
        request=ProjectInputSerializer,
        responses={201: ProjectOutputSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        body = ProjectInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = services.project_create(user=request.user, **body.validated_data)
        return Response(ProjectOutputSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(ProjectScopedView):
    required_roles = {"PUT": Role.ADMIN, "DELETE": Role.OWNER}

    @extend_schema(summary="Get a project", responses={200: ProjectOutputSerializer, **ERRORS})
    def get(self, request: AuthenticatedRequest, project_id: str) -> Response:
        return Response(ProjectOutputSerializer(self.project).data)

    @extend_schema(
        summary="Rename a project (admin or owner)",
        request=ProjectInputSerializer,
        responses={200: ProjectOutputSerializer, **ROLE_ERRORS},
    )
    def put(self, request: AuthenticatedRequest, project_id: str) -> Response:
        body = ProjectInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = services.project_update(project=self.project, **body.validated_data)
        return Response(ProjectOutputSerializer(project).data)

    @extend_schema(
        summary="Delete a project and everything in it (owner)",
        responses={200: SuccessSerializer, **ROLE_ERRORS},
    )
    def delete(self, request: AuthenticatedRequest, project_id: str) -> Response:
        services.project_delete(project=self.project)
        return Response({"success": True})


class MemberListView(ProjectScopedView):
    @extend_schema(
        summary="List the project's members",
        responses={200: MemberOutputSerializer(many=True), **ERRORS},
    )
    def get(self, request: AuthenticatedRequest, project_id: str) -> Response:
        members = selectors.member_list(project=self.project)
        return Response(MemberOutputSerializer(members, many=True).data)


class MemberDetailView(ProjectScopedView):
    @extend_schema(
        summary="Remove a member (admin or owner; a member may remove themselves)",
        responses={200: SuccessSerializer, **ROLE_ERRORS},
    )
    def delete(
        self, request: AuthenticatedRequest, project_id: str, user_id: uuid.UUID
    ) -> Response:
        services.member_remove(actor=self.membership, user_id=user_id)
        return Response({"success": True})


class ProjectAuditView(ProjectScopedView):
    required_roles = {"GET": Role.ADMIN}

    @extend_schema(
        summary="The project's audit log, newest first (admin or owner)",
        parameters=[AuditQuerySerializer],
        responses={200: AuditPageSerializer, **ROLE_ERRORS},
    )
    def get(self, request: AuthenticatedRequest, project_id: str) -> Response:
        return audit_answer(request, project_id=self.project.id)


class InvitationCreateView(ProjectScopedView):
    required_roles = {"POST": Role.ADMIN}

    @extend_schema(
        summary="Invite someone by email (admin or owner); the token is shown only here",
        request=InvitationInputSerializer,
        responses={
            201: InvitationOutputSerializer,
            409: OpenApiResponse(ErrorSerializer, description="Already a member"),
            **ROLE_ERRORS,
        },
    )
    def post(self, request: AuthenticatedRequest, project_id: str) -> Response:
        body = InvitationInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        invitation, token = services.invitation_create(
            project=self.project, invited_by=request.user, **body.validated_data
        )
        output = InvitationOutputSerializer(invitation, context={"token": token})
        return Response(output.data, status=status.HTTP_201_CREATED)


ACCEPT_RESPONSES = {
    200: SuccessSerializer,
    400: OpenApiResponse(ErrorSerializer, description="Missing or expired invitation"),
    401: ERRORS[401],
    403: OpenApiResponse(ErrorSerializer, description="Invited another email"),
}


# Not membership-scoped: the caller becomes a member by accepting.
class InvitationAcceptView(APIView):
    @extend_schema(
        summary="Accept an invitation with its token (kept out of the URL, and so of logs)",
        operation_id="invitations_accept",
        request=InvitationAcceptSerializer,
        responses=ACCEPT_RESPONSES,
    )
    def post(self, request: AuthenticatedRequest, project_id: str) -> Response:
        body = InvitationAcceptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.invitation_accept(
            project_id=project_id, token=body.validated_data["token"], user=request.user
        )
        return Response({"success": True})


class InvitationTokenAcceptView(APIView):
    @extend_schema(
        summary="Accept an invitation with its token in the path (the contract's form; "
        "logs show the token as [redacted])",
        operation_id="api_projects_invitations_accept_create",
        request=None,
        responses=ACCEPT_RESPONSES,
    )
    def post(self, request: AuthenticatedRequest, project_id: str, token: str) -> Response:
        services.invitation_accept(project_id=project_id, token=token, user=request.user)
        return Response({"success": True})
