from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.agents import selectors, services
from apps.agents.api.serializers import (
    AgentCreateSerializer,
    AgentDefaultSerializer,
    AgentOutputSerializer,
    AgentUpdateSerializer,
)
from apps.agents.catalog import AGENT_TYPES
from apps.projects.api.base import ProjectScopedView
from discobot.api.schema import error_responses
from discobot.api.serializers import ErrorSerializer, SuccessSerializer

ERRORS = error_responses(400, 401, 404)
MASKED_SECRET_CONFLICT = {
    409: OpenApiResponse(
        ErrorSerializer, description="A masked secret was sent where none is stored to keep"
    )
}


class AgentListView(ProjectScopedView):
    @extend_schema(
        summary="The project's agents",
        operation_id="agents_list",
        responses={
            200: inline_serializer("AgentList", {"agents": AgentOutputSerializer(many=True)}),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str) -> Response:
        agents = selectors.agent_list(project=self.project)
        return Response({"agents": AgentOutputSerializer(agents, many=True).data})

    @extend_schema(
        summary="Create an agent (the project's first becomes its default)",
        request=AgentCreateSerializer,
        responses={201: AgentOutputSerializer, **ERRORS, **MASKED_SECRET_CONFLICT},
    )
    def post(self, request: Request, project_id: str) -> Response:
        body = AgentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent = services.agent_create(project=self.project, **body.validated_data)
        agent = selectors.agent_get(project=self.project, agent_id=str(agent.id))
        return Response(AgentOutputSerializer(agent).data, status=status.HTTP_201_CREATED)


class AgentTypesView(ProjectScopedView):
    @extend_schema(
        summary="Agent types and the LLM providers each can use",
        responses=inline_serializer(
            "AgentTypes",
            {
                "agentTypes": inline_serializer(
                    "AgentTypeInfo",
                    {
                        "id": serializers.CharField(),
                        "name": serializers.CharField(),
                        "description": serializers.CharField(),
                        "supportedAuthProviders": serializers.ListField(
                            child=serializers.CharField()
                        ),
                        "defaultModel": serializers.CharField(),
                        "allowNoAuth": serializers.BooleanField(),
                        "highlighted": serializers.BooleanField(),
                    },
                    many=True,
                )
            },
        ),
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response({"agentTypes": AGENT_TYPES})


class AgentDefaultView(ProjectScopedView):
    @extend_schema(
        summary="Make an agent the project's default",
        request=AgentDefaultSerializer,
        responses={200: SuccessSerializer, **ERRORS},
    )
    def post(self, request: Request, project_id: str) -> Response:
        body = AgentDefaultSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent = selectors.agent_get(
            project=self.project, agent_id=str(body.validated_data["agent_id"])
        )
        services.agent_default_set(agent=agent)
        return Response({"success": True})


class AgentDetailView(ProjectScopedView):
    @extend_schema(summary="An agent", responses={200: AgentOutputSerializer, **ERRORS})
    def get(self, request: Request, project_id: str, agent_id: str) -> Response:
        agent = selectors.agent_get(project=self.project, agent_id=agent_id)
        return Response(AgentOutputSerializer(agent).data)

    @extend_schema(
        summary="Change an agent; `mcpServers`, when present, replaces the set",
        description="A masked secret (`********`) sent back keeps the stored one, which is read "
        "(503 when the server's key cannot open it).",
        request=AgentUpdateSerializer,
        responses={
            200: AgentOutputSerializer,
            **ERRORS,
            **MASKED_SECRET_CONFLICT,
            **error_responses(503),
        },
    )
    def put(self, request: Request, project_id: str, agent_id: str) -> Response:
        agent = selectors.agent_get(project=self.project, agent_id=agent_id)
        body = AgentUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.agent_update(agent=agent, changes=body.validated_data)
        agent = selectors.agent_get(project=self.project, agent_id=agent_id)
        return Response(AgentOutputSerializer(agent).data)

    @extend_schema(
        summary="Delete an agent (its sessions use the default agent)",
        responses={200: SuccessSerializer, **ERRORS},
    )
    def delete(self, request: Request, project_id: str, agent_id: str) -> Response:
        agent = selectors.agent_get(project=self.project, agent_id=agent_id)
        services.agent_delete(agent=agent)
        return Response({"success": True})
