from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers

from apps.agents.models import Agent, AgentMCPServer, AgentType, MCPServerType
from apps.agents.selectors import mcp_server_public_config
from discobot.api.fields import (
    HTTP_URL,
    NO_NUL,
    NOT_BLANK,
    JsonBooleanField,
    StringMapField,
    TextField,
)
from discobot.api.serializers import DisplayNameField, StrictSerializer

# What a process environment can hold: no `=` in a name, no NUL anywhere.
ENV_NAME = "^[^=\\u0000]+$"
ENV_VALUE = NO_NUL
# HTTP field names are tokens (RFC 9110 §5.1); values hold no control character but tab, so
# a value cannot end the header and start another.
HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
HEADER_VALUE = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*$"
# A litellm model id, `provider/model`: visible ASCII without spaces; empty: the type's default.
MODEL_ID = "^[!-~]*$"


def model_field(**kwargs: Any) -> TextField:
    return TextField(
        max_length=200,
        required=False,
        allow_blank=True,
        pattern=MODEL_ID,
        message="A model id is letters, digits and punctuation, e.g. openai/gpt-4.1.",
        help_text="A litellm model id such as `openai/gpt-4.1`; empty: the agent type's "
        "`defaultModel`",
        **kwargs,
    )


@extend_schema_serializer(component_name="StdioConfig")
class StdioConfigSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=[MCPServerType.STDIO])
    command = TextField(max_length=1000, pattern=NOT_BLANK)
    # An argument may be empty (`--flag ""`); a process's arguments cannot hold NUL.
    args = serializers.ListField(child=TextField(max_length=4000, allow_blank=True), required=False)
    env = StringMapField(names=ENV_NAME, values=ENV_VALUE, what="env", required=False)


@extend_schema_serializer(component_name="HttpConfig")
class HttpConfigSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=[MCPServerType.HTTP])
    url = TextField(max_length=2000, pattern=HTTP_URL, message="Enter an http or https URL.")
    headers = StringMapField(names=HEADER_NAME, values=HEADER_VALUE, what="headers", required=False)


CONFIG_SERIALIZERS: dict[str, serializers.Serializer[Any] | type[serializers.Serializer[Any]]] = {
    "stdio": StdioConfigSerializer,
    "http": HttpConfigSerializer,
}


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="MCPServerConfig",
        serializers=CONFIG_SERIALIZERS,
        resource_type_field_name="type",
    )
)
class MCPConfigField(serializers.JSONField):
    """`{type:"stdio", command, args?, env?}` or `{type:"http", url, headers?}`."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("config must be an object")
        serializer_class = CONFIG_SERIALIZERS.get(str(data.get("type")))
        if not isinstance(serializer_class, type):
            raise serializers.ValidationError('config.type must be "stdio" or "http"')
        config = serializer_class(data=data)
        config.is_valid(raise_exception=True)
        return dict(config.validated_data)


@extend_schema_serializer(component_name="MCPServerInput")
class MCPServerInputSerializer(StrictSerializer):
    # Ignored: an agent's servers are replaced as a set.
    id = TextField(required=False, allow_blank=True)
    name = DisplayNameField(
        max_length=200, help_text="Unique within the agent (after the cleaning below)"
    )
    config = MCPConfigField()
    enabled = JsonBooleanField(default=True)


def mcp_servers_field(**kwargs: Any) -> serializers.ListSerializer[Any]:
    # Built by hand: `many=True` hands `allow_null` to each item too, letting `[null]` through.
    server = MCPServerInputSerializer(error_messages={"null": "An MCP server cannot be null"})
    return serializers.ListSerializer(child=server, source="mcp_servers", **kwargs)


@extend_schema_serializer(component_name="AgentCreate")
class AgentCreateSerializer(StrictSerializer):
    name = DisplayNameField(max_length=200)
    description = TextField(max_length=2000, required=False, allow_blank=True)
    agentType = serializers.ChoiceField(source="agent_type", choices=AgentType.choices)
    systemPrompt = TextField(
        source="system_prompt", max_length=100_000, required=False, allow_blank=True
    )
    model = model_field()
    mcpServers = mcp_servers_field(required=False)


@extend_schema_serializer(component_name="AgentUpdate")
class AgentUpdateSerializer(StrictSerializer):
    name = DisplayNameField(max_length=200, required=False)
    description = TextField(max_length=2000, required=False, allow_blank=True, allow_null=True)
    agentType = serializers.ChoiceField(
        source="agent_type", choices=AgentType.choices, required=False
    )
    systemPrompt = TextField(
        source="system_prompt",
        max_length=100_000,
        required=False,
        allow_blank=True,
        allow_null=True,
    )
    model = model_field(allow_null=True)
    mcpServers = mcp_servers_field(required=False, allow_null=True)


@extend_schema_serializer(component_name="MCPServer")
class MCPServerOutputSerializer(serializers.ModelSerializer[AgentMCPServer]):
    config = serializers.SerializerMethodField()

    class Meta:
        model = AgentMCPServer
        fields = ("id", "name", "config", "enabled")

    @extend_schema_field(MCPConfigField)
    def get_config(self, server: AgentMCPServer) -> dict[str, Any]:
        return mcp_server_public_config(server)


@extend_schema_serializer(component_name="Agent")
class AgentOutputSerializer(serializers.ModelSerializer[Agent]):
    agentType = serializers.CharField(source="agent_type")
    systemPrompt = serializers.CharField(source="system_prompt")
    mcpServers = MCPServerOutputSerializer(source="mcp_servers", many=True)
    isDefault = serializers.BooleanField(source="is_default")

    class Meta:
        model = Agent
        fields = (
            "id",
            "name",
            "description",
            "agentType",
            "systemPrompt",
            "model",
            "mcpServers",
            "isDefault",
        )


class AgentDefaultSerializer(StrictSerializer):
    agentId = serializers.UUIDField(source="agent_id")
