"""The models an agent or a session can use, from the project's credentials. Here rather than
in `agents`: listing them needs `credentials`, a sibling `agents` never imports."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.agents.selectors import agent_get
from apps.projects.api.base import ProjectScopedView
from apps.workspaces import selectors
from discobot.api.schema import error_responses

ERRORS = error_responses(400, 401, 404)
MODEL_LIST = inline_serializer(
    "ModelList",
    {
        "models": inline_serializer(
            "ModelInfo",
            {
                "id": serializers.CharField(help_text="A litellm model id, `provider/model`"),
                "display_name": serializers.CharField(),
                "provider": serializers.CharField(help_text="The credential's provider"),
                "created_at": serializers.CharField(allow_null=True),
                "type": serializers.CharField(help_text='Always "model"'),
                "reasoning": serializers.BooleanField(),
            },
            many=True,
        )
    },
)
DESCRIPTION = (
    "A credential with a base URL lists what its endpoint serves (nothing when it cannot be "
    "reached in time); any other, litellm's models of its provider. Cached briefly."
)


class AgentModelsView(ProjectScopedView):
    @extend_schema(
        summary="The models the agent's type can use with the project's credentials",
        description=DESCRIPTION,
        responses={200: MODEL_LIST, **ERRORS},
    )
    def get(self, request: Request, project_id: str, agent_id: str) -> Response:
        agent = agent_get(project=self.project, agent_id=agent_id)
        return Response({"models": selectors.agent_models(project=self.project, agent=agent)})


class SessionModelsView(ProjectScopedView):
    @extend_schema(
        summary="The models the session's agent can use with the project's credentials",
        description=DESCRIPTION,
        responses={200: MODEL_LIST, **ERRORS},
    )
    def get(self, request: Request, project_id: str, session_id: str) -> Response:
        session = selectors.session_get(project=self.project, session_id=session_id)
        return Response({"models": selectors.session_models(session=session)})
